"""Fixtures shared by every test: one real Kafka broker per test session.

The broker is the project's own (localkafka) on a free port, or the cluster
named by OMS_KAFKA_BOOTSTRAP. It is started lazily: unit tests never wait
for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import localkafka
from launcher.mailsink import MailSink
from tests.support.ports import free_port_block


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localkafka.KafkaService]:
    if os.environ.get("OMS_KAFKA_BOOTSTRAP"):
        cluster: localkafka.KafkaService = localkafka.ExternalKafka(os.environ["OMS_KAFKA_BOOTSTRAP"])
    else:
        cluster = localkafka.KafkaCluster(
            brokers=1,
            port=free_port_block(2),
            data_dir=Path(os.environ.get("OMS_DATA_DIR") or Path(__file__).resolve().parent.parent / ".oms-data"),
            num_partitions=3,
        )
    with cluster:
        yield cluster


@pytest.fixture(scope="session")
def sasl_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localkafka.KafkaCluster]:
    """A broker of our own that serves SASL/SCRAM with ACLs (OMS_KAFKA_SASL=1's),
    on free ports whatever OMS_KAFKA_BOOTSTRAP says: the shared broker stays
    plaintext. Its admin's client properties: `client_properties`."""
    cluster = localkafka.KafkaCluster(
        brokers=1,
        port=free_port_block(2),
        data_dir=Path(os.environ.get("OMS_DATA_DIR") or Path(__file__).resolve().parent.parent / ".oms-data"),
        num_partitions=3,
        sasl=True,
        admin_properties=tmp_path_factory.mktemp("sasl") / "admin.properties",
    )
    with cluster:
        yield cluster


@pytest.fixture(scope="session")
def bootstrap(kafka: localkafka.KafkaService) -> str:
    return kafka.bootstrap_servers


@pytest.fixture(scope="module")
def mail() -> Iterator[MailSink]:
    """A real SMTP server (the sink `make run` starts) for a module's platform."""
    sink = MailSink().start()
    yield sink
    sink.stop()
