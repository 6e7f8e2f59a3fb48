"""A small Kafka Streams for Python: transactional consume -> step -> produce.

It knows no domain: the application declares its topics, processors and
metrics (for oms: `topology/`). `records`, `state`, `codecs`, `stores`
(named typed stores, `Timers`) and `processor` (the base class, `decode`)
are pure (no I/O); `kafka` is the one module that owns confluent_kafka;
`leveldb` is the one module that owns plyvel; `runner` drives a processor
against Kafka, `testing` drives it in memory, both through `batch`.
"""
