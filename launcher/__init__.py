"""`make run`: the whole platform in the foreground, Kafka included."""
