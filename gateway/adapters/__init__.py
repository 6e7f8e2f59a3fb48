"""The gateway's adapters: the event log on Kafka, the read model on
LevelDB (view, projectors, notifier, tables), and its peers."""
