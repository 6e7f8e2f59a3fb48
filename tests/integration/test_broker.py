"""The project-managed Kafka broker (localkafka) really works, exactly-once included."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

import localkafka
from localkafka import distribution, settings

pytestmark = pytest.mark.kafka

EXTERNAL = settings.external_bootstrap() is not None
needs_local = pytest.mark.skipif(EXTERNAL, reason="OMS_KAFKA_BOOTSTRAP set: no local broker")


@pytest.fixture(scope="session")
def kafka() -> Iterator[localkafka.KafkaService]:
    """One broker for the whole session (or OMS_KAFKA_BOOTSTRAP's cluster)."""
    with localkafka.from_env() as cluster:
        yield cluster


@pytest.fixture()
def topic(kafka: localkafka.KafkaService) -> str:
    name = f"test-broker-{uuid.uuid4().hex[:12]}"
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    # replication_factor=-1: the broker default, so this also runs on 3 brokers.
    futures = admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=-1)])
    futures[name].result(timeout=30)
    return name


def _consume_until(bootstrap: str, topic: str, isolation: str, sentinel: bytes, timeout: float = 30.0) -> list[bytes]:
    """Values read from the start of topic up to and including sentinel."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-broker-{uuid.uuid4().hex}",
            "isolation.level": isolation,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    values: list[bytes] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while sentinel not in values:
            assert time.monotonic() < deadline, f"only read {values} within {timeout}s"
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                # Reaching the end of the partition is not an error here.
                assert error.code() == KafkaError._PARTITION_EOF, error
                continue
            value = message.value()
            assert value is not None
            values.append(value)
    finally:
        consumer.close()
    return values


def test_read_committed_sees_exactly_the_committed_transactions(kafka: localkafka.KafkaService, topic: str) -> None:
    producer = Producer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "transactional.id": f"test-broker-{uuid.uuid4().hex}",
        }
    )
    producer.init_transactions(30)

    producer.begin_transaction()
    for i in range(3):
        producer.produce(topic, key=b"k", value=f"committed-{i}".encode())
    producer.commit_transaction(30)

    producer.begin_transaction()
    for i in range(2):
        producer.produce(topic, key=b"k", value=f"aborted-{i}".encode())
    producer.flush(30)  # make sure the aborted records really reach the log
    producer.abort_transaction(30)

    # The last committed record marks the end: one partition keeps order, so a
    # consumer that sees it has passed everything written before it.
    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"end")
    producer.commit_transaction(30)

    committed = _consume_until(kafka.bootstrap_servers, topic, "read_committed", b"end")
    assert committed == [b"committed-0", b"committed-1", b"committed-2", b"end"]

    # Guard against a vacuous pass: the aborted records are in the log.
    everything = _consume_until(kafka.bootstrap_servers, topic, "read_uncommitted", b"end")
    assert [v for v in everything if v.startswith(b"aborted-")] == [b"aborted-0", b"aborted-1"]


def test_broker_metadata_is_as_configured(kafka: localkafka.KafkaService, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    metadata = admin.list_topics(timeout=10)
    assert topic in metadata.topics
    if EXTERNAL:
        return
    assert len(metadata.brokers) == settings.broker_count()
    broker = ConfigResource(ConfigResource.Type.BROKER, str(min(metadata.brokers)))
    configs = admin.describe_configs([broker])[broker].result(timeout=10)
    expected = {
        "auto.create.topics.enable": "false",
        "group.initial.rebalance.delay.ms": "0",
        "process.roles": "broker,controller",
    }
    assert {name: configs[name].value for name in expected} == expected


@needs_local
def test_second_install_is_a_cached_no_op(kafka: localkafka.KafkaService, monkeypatch: pytest.MonkeyPatch) -> None:
    # The session fixture installed already; with Maven "gone", a second
    # install must still succeed from the cache without touching it.
    dist = localkafka.installed()
    assert dist is not None and dist.version == localkafka.KAFKA_VERSION
    marker = dist.home / distribution.MARKER_NAME
    before = marker.stat().st_mtime_ns
    monkeypatch.setattr("localkafka.distribution.shutil.which", lambda name: None)
    assert localkafka.install() == dist
    assert marker.stat().st_mtime_ns == before
    assert (dist.libs_dir / f"kafka_2.13-{dist.version}.jar").is_file()


@needs_local
def test_broker_logs_to_its_data_dir(kafka: localkafka.KafkaCluster) -> None:
    server_log = kafka.nodes[0].logs_dir / "server.log"
    assert "Kafka Server started" in server_log.read_text()


@needs_local
def test_taken_port_fails_fast_and_leaves_nothing(kafka: localkafka.KafkaCluster) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        cluster = localkafka.KafkaCluster(brokers=1, port=port)
        with pytest.raises(localkafka.PortInUseError, match=str(port)):
            cluster.start()
        assert not cluster.is_running


@needs_local
def test_stop_leaves_no_process_behind(kafka: localkafka.KafkaCluster) -> None:
    # A second, short-lived broker beside the session one, on its own ports.
    port = _free_port_pair()
    with localkafka.KafkaCluster(brokers=1, port=port) as cluster:
        pid = cluster.nodes[0].pid
        assert pid is not None and _process_exists(pid)
        assert cluster.bootstrap_servers == f"127.0.0.1:{port}"
    assert not _process_exists(pid)
    assert not cluster.nodes[0].pid_path.exists()


def test_external_bootstrap_starts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.ENV_BOOTSTRAP, "kafka.example:9092")
    service = localkafka.from_env()
    assert isinstance(service, localkafka.ExternalKafka)
    with service as started:
        assert started.bootstrap_servers == "kafka.example:9092"


def _free_port_pair() -> int:
    """A port p such that p and p+1 are both free on loopback right now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port < 65535 and _port_free(port) and _port_free(port + 1):
            return port
    raise RuntimeError("no two consecutive free ports found")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
