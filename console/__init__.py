"""The web console (issue 14): orders, one order's story, a live view, stock
and dead letters, served as HTML from the public gRPC API (through the SDK)
and the services' metrics endpoints. No Kafka, no LevelDB: it runs anywhere a
client can."""
