"""Every Kafka client streams.kafka makes takes the connection's properties
(the security settings of a user's cluster must reach admin and restore
clients too, not only producers and consumers)."""

from __future__ import annotations

import pytest

from streams import kafka
from streams.kafka import Connection
from streams.topics import TopicDrift, TopicSpec

PROPERTIES = {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.password": "s3cret"}


class Refused(Exception):
    pass


@pytest.fixture
def configs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """The configuration of every client made, each refused right after."""
    made: list[dict[str, object]] = []

    def client(config: dict[str, object]) -> object:
        made.append(config)
        raise Refused

    for name in ("AdminClient", "Producer", "Consumer"):
        monkeypatch.setattr(kafka, name, client)
    return made


CLIENTS = {
    "ensure_topics": lambda c: kafka.ensure_topics(c, [], 1, 1),
    "partition_count": lambda c: kafka.partition_count(c, "orders"),
    "group_members": lambda c: kafka.group_members(c, "group"),
    "admin_client": lambda c: kafka.admin_client(c),
    "read_changelog": lambda c: next(kafka.read_changelog(c, "changelog", 0, 0)),
    "Publisher": lambda c: kafka.Publisher(c),
    "CommittingConsumer": lambda c: kafka.CommittingConsumer(c, "group", ["t"]),
    "ViewConsumer": lambda c: kafka.ViewConsumer(c, "group", ["t"], lambda _t, _p: None),
    "TransactionalIO": lambda c: kafka.TransactionalIO(c, "group", "tx", ["t"], print, print),
    "topic_drift": lambda c: kafka.topic_drift(c, [TopicSpec("orders", configs={"retention.ms": "-1"})]),
    "fix_topic_configs": lambda c: kafka.fix_topic_configs(c, [TopicDrift("orders", {"retention.ms": ("1", "-1")})]),
    "set_scram_users": lambda c: kafka.set_scram_users(c, {"user": "password"}),
    "grant": lambda c: kafka.grant(c, "user", kafka.Permissions(reads=frozenset({"orders"}))),
}


@pytest.mark.parametrize("make", CLIENTS.values(), ids=CLIENTS.keys())
def test_every_client_takes_the_connection_properties(configs: list[dict[str, object]], make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused):
        make(Connection("broker-1:9093", PROPERTIES))

    assert configs, "no client was made"
    for config in configs:
        assert config["bootstrap.servers"] == "broker-1:9093"
        assert {key: config[key] for key in PROPERTIES} == PROPERTIES


def test_a_bare_bootstrap_string_is_a_connection_without_properties(configs: list[dict[str, object]]) -> None:
    with pytest.raises(Refused):
        kafka.partition_count("broker-1:9092", "orders")

    assert configs[0]["bootstrap.servers"] == "broker-1:9092"
    assert "security.protocol" not in configs[0]


def test_a_connection_never_shows_its_secrets() -> None:
    shown = repr(Connection("broker-1:9093", PROPERTIES))

    assert "s3cret" not in shown and "sasl.password" in shown
