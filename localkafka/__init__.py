"""Run a real Apache Kafka (KRaft) on loopback for development and tests.

    from localkafka import from_env
    with from_env() as kafka:          # or KafkaCluster(brokers=1, port=9092)
        use(kafka.bootstrap_servers)

The broker jars come from Maven Central (see :mod:`localkafka.install`) and are
cached under ``$OMS_DATA_DIR/kafka-dist/<version>``. With ``OMS_KAFKA_BOOTSTRAP``
set, :func:`from_env` returns that cluster and starts nothing.
"""

import logging

from .cluster import (
    ExternalKafka,
    KafkaCluster,
    KafkaNode,
    KafkaService,
    KafkaStartError,
    PortInUseError,
    from_env,
)
from .distribution import KafkaDistribution, KafkaInstallError, install, installed
from .settings import KAFKA_VERSION

# A library never configures logging; this just keeps Python's last-resort
# handler from printing our (and librdkafka's) warnings unasked.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "KAFKA_VERSION",
    "ExternalKafka",
    "KafkaCluster",
    "KafkaDistribution",
    "KafkaInstallError",
    "KafkaNode",
    "KafkaService",
    "KafkaStartError",
    "PortInUseError",
    "from_env",
    "install",
    "installed",
]
