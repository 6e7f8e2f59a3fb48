"""The gateway's application layer: command and query handlers over ports.

Nothing here knows gRPC, Kafka or LevelDB: handlers read and write through
the ports (`ports.py`) and raise the errors of `errors.py`, which the api
layer turns into gRPC statuses at the edge.
"""
