"""A small Kafka Streams for Python: transactional consume -> step -> produce.

`records` and `state` are pure (no I/O); `kafka` is the one module that owns
confluent_kafka; `leveldb` is the one module that owns plyvel; `runner`
drives a processor against Kafka, `testing` drives it in memory.
"""
