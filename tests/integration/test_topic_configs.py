"""An event log that never expires, on the real broker: every topic is
created with its retention and cleanup policy, and an existing topic that
would lose events is fixed or refused at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from topology.config import EX_CONFIG, Config
from topology.registry import STATEFUL_PROCESSORS
from topology.service import TopicsWouldLoseEvents, create_topics

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]
WEEK_MS = str(7 * 24 * 3600 * 1000)

# Written out, not derived from the catalogue, so a topic that moves from one
# kind to the other fails here.
EVENT_LOGS = [
    "orders",
    "payments",
    "order-validations",
    "fraud-check-orders",
    "inventory-check-orders",
    "orders-by-customer",
    "payments-by-order",
    "platinum",
    "gold",
    "silver",
    "bronze",
    "enriched-orders",
    "email-requests",
    "dead-letters",
]
TABLES = [
    "customers",
    "warehouse-inventory",
    "inventory-levels",
    *(f"{processor}-changelog" for processor in STATEFUL_PROCESSORS),
]


def namespace() -> str:
    return f"r{uuid.uuid4().hex[:8]}."


def configs(bootstrap: str, topics: list[str]) -> dict[str, dict[str, str]]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic) for topic in topics])
    return {
        resource.name: {key: entry.value for key, entry in future.result(10).items()}
        for resource, future in futures.items()
    }


def test_every_event_log_is_kept_forever_and_every_table_is_compacted(bootstrap: str) -> None:
    ns = namespace()
    create_topics(Config.load({}, kafka_bootstrap=bootstrap, namespace=ns))

    found = configs(bootstrap, [ns + topic for topic in EVENT_LOGS + TABLES])

    assert STATEFUL_PROCESSORS  # the changelogs are among the tables
    for topic in EVENT_LOGS:
        config = found[ns + topic]
        assert (config["cleanup.policy"], config["retention.ms"], config["retention.bytes"]) == (
            "delete",
            "-1",
            "-1",
        ), topic
    for topic in TABLES:
        assert found[ns + topic]["cleanup.policy"] == "compact", topic


def precreate_orders_with_a_weeks_retention(bootstrap: str, ns: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = NewTopic(ns + "orders", 3, 1, config={"retention.ms": WEEK_MS})
    admin.create_topics([topic])[ns + "orders"].result(30)


def test_an_existing_topic_that_would_lose_events_is_refused_on_a_users_cluster(bootstrap: str) -> None:
    ns = namespace()
    precreate_orders_with_a_weeks_retention(bootstrap, ns)

    with pytest.raises(TopicsWouldLoseEvents, match=rf"{ns}orders: retention.ms={WEEK_MS} \(wanted -1\)") as refused:
        create_topics(Config.load({}, kafka_bootstrap=bootstrap, namespace=ns))

    assert "OMS_KAFKA_FIX_TOPIC_CONFIGS=1" in str(refused.value)
    assert configs(bootstrap, [ns + "orders"])[ns + "orders"]["retention.ms"] == WEEK_MS  # left as it was


def test_a_service_refuses_to_start_with_ex_config_on_such_a_topic(bootstrap: str, tmp_path: Path) -> None:
    ns = namespace()
    precreate_orders_with_a_weeks_retention(bootstrap, ns)
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO}:{REPO / 'gen'}",
        "OMS_KAFKA_BOOTSTRAP": bootstrap,
        "OMS_NAMESPACE": ns,
        "OMS_DATA_DIR": str(tmp_path),
        "OMS_METRICS_PORT": "0",
    }

    service = subprocess.run(
        [sys.executable, "-m", "validators", "order-details"], env=env, capture_output=True, text=True, timeout=120
    )

    assert service.returncode == EX_CONFIG
    assert f"{ns}orders: retention.ms={WEEK_MS} (wanted -1)" in service.stderr


def test_such_a_topic_is_fixed_when_told_to(bootstrap: str) -> None:
    ns = namespace()
    precreate_orders_with_a_weeks_retention(bootstrap, ns)

    create_topics(Config.load({"OMS_KAFKA_FIX_TOPIC_CONFIGS": "1"}, kafka_bootstrap=bootstrap, namespace=ns))

    assert configs(bootstrap, [ns + "orders"])[ns + "orders"]["retention.ms"] == "-1"


def test_such_a_topic_is_fixed_on_the_local_broker(bootstrap: str) -> None:
    ns = namespace()
    precreate_orders_with_a_weeks_retention(bootstrap, ns)

    # What the launcher does for a broker it started itself.
    create_topics(Config.load({}, kafka_bootstrap=bootstrap, namespace=ns), fix=True)

    assert configs(bootstrap, [ns + "orders"])[ns + "orders"]["retention.ms"] == "-1"
