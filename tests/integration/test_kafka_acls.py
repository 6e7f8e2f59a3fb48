"""Kafka's own SASL/SCRAM and ACLs on the broker OMS_KAFKA_SASL=1 starts:
no client gets in without credentials, and each service's user may do what
its permissions say and nothing else."""

from __future__ import annotations

import stat
import uuid

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

import localkafka
from topology.config import Config
from topology.security import as_admin, provision_service_users
from topology.service import create_topics

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def users(sasl_kafka: localkafka.KafkaCluster) -> tuple[Config, dict[str, dict[str, str]]]:
    """The platform's topics made as the admin, and every service's user."""
    # Each check as its own service, with a user of its own.
    settings = Config.load({"OMS_LAYOUT": "separate"}, namespace=f"a{uuid.uuid4().hex[:8]}.")
    admin = as_admin(settings, sasl_kafka.bootstrap_servers, sasl_kafka.client_properties)
    create_topics(admin)
    return admin, provision_service_users(admin)


def client_config(sasl_kafka: localkafka.KafkaCluster, env: dict[str, str]) -> dict[str, object]:
    """A client logged in with a service's credentials, as its process would be."""
    return {"bootstrap.servers": sasl_kafka.bootstrap_servers, **Config.load(env).kafka_properties}


def produce(config: dict[str, object], topic: str) -> KafkaError | None:
    """Produces one record; the delivery's error (None when it was written)."""
    errors: list[KafkaError | None] = []
    producer = Producer({**config, "message.timeout.ms": 10_000})
    producer.produce(topic, b"value", key=b"key", on_delivery=lambda error, _message: errors.append(error))
    producer.flush(15)
    return errors[0]


def test_the_admin_properties_are_written_for_operators_and_readable_by_their_owner_only(
    sasl_kafka: localkafka.KafkaCluster,
) -> None:
    path = sasl_kafka.admin_properties_path
    written = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert written["sasl.mechanism"] == "SCRAM-SHA-512" and written["sasl.username"] == "admin"
    admin = AdminClient({k: v for k, v in written.items()})
    assert "__consumer_offsets" in admin.list_topics(timeout=15).topics


def test_a_client_without_credentials_is_refused(sasl_kafka: localkafka.KafkaCluster) -> None:
    anonymous = AdminClient({"bootstrap.servers": sasl_kafka.bootstrap_servers})

    with pytest.raises(KafkaException):
        anonymous.list_topics(timeout=5)


def test_a_wrong_password_is_refused(sasl_kafka: localkafka.KafkaCluster, users) -> None:  # type: ignore[no-untyped-def]
    admin, credentials = users
    env = {**credentials["fraud"], "OMS_KAFKA_SASL_PASSWORD": "not-the-password"}

    error = produce(client_config(sasl_kafka, env), admin.topic("order-validations"))

    # librdkafka reports the failed login, or times the record out after it.
    assert error is not None and error.code() in (KafkaError._AUTHENTICATION, KafkaError._MSG_TIMED_OUT)


def test_a_validators_user_writes_its_verdicts(sasl_kafka: localkafka.KafkaCluster, users) -> None:  # type: ignore[no-untyped-def]
    admin, credentials = users

    assert produce(client_config(sasl_kafka, credentials["fraud"]), admin.topic("order-validations")) is None


def test_a_validators_user_cannot_write_orders(sasl_kafka: localkafka.KafkaCluster, users) -> None:  # type: ignore[no-untyped-def]
    admin, credentials = users

    error = produce(client_config(sasl_kafka, credentials["fraud"]), admin.topic("orders"))

    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_a_validators_user_cannot_see_topics_it_does_not_use(sasl_kafka: localkafka.KafkaCluster, users) -> None:  # type: ignore[no-untyped-def]
    admin, credentials = users

    visible = set(AdminClient(client_config(sasl_kafka, credentials["fraud"])).list_topics(timeout=15).topics)

    assert admin.topic("orders") in visible and admin.topic("payments") not in visible
