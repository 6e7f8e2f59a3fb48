"""The front door: command and query gRPC services over the order view."""
