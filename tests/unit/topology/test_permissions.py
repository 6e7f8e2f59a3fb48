"""Least privilege: what each kind of service may do on Kafka, derived from
its processors and declared for the rest, written out here in full."""

from __future__ import annotations

from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType

from streams.kafka import Permissions
from topology.config import Config
from topology.registry import SERVICES, service

SETTINGS = Config.load({"OMS_NAMESPACE": "ns."})


def names(*topics: str) -> frozenset[str]:
    return frozenset(f"ns.{topic}" for topic in topics)


def test_the_fraud_check_reads_and_writes_only_its_own_topics() -> None:
    assert service("fraud").permissions(SETTINGS) == Permissions(
        reads=names("orders", "fraud-check-orders", "fraud-check-changelog"),
        writes=names("fraud-check-orders", "order-validations", "dead-letters", "fraud-check-changelog"),
        groups=names("fraud-check", "fraud-check-changelog-restore"),
        transactional_id_prefixes=names("fraud-check-"),
        observed_groups=names("pipeline"),  # the other layout's runner of the fraud check
    )


def test_the_aggregator_is_the_only_processor_that_writes_orders() -> None:
    writers = {s.name for s in SERVICES if "ns.orders" in s.permissions(SETTINGS).writes}

    assert writers == {"gateway", "aggregator", "pipeline"}  # the pipeline hosts the aggregator


def test_the_gateway_writes_the_event_log_commands_and_tables_and_reads_its_views_and_the_dead_letters() -> None:
    assert service("gateway").permissions(SETTINGS) == Permissions(
        reads=names("orders", "customers", "payments", "inventory-levels", "customer-orders", "dead-letters"),
        writes=names("orders", "customers", "payments", "warehouse-inventory", "order-commands"),
        groups=names("order-view"),
        group_prefixes=names("tables-view-"),
        # How far the workflow got: routing (lists by customer), the checks
        # and the aggregator (PlaceOrder's admission), or the pipeline hosting them.
        observed_groups=names(
            "order-routing",
            "order-details-check",
            "fraud-check",
            "inventory-check",
            "validation-aggregator",
            "pipeline",
        ),
    )


def test_the_pipeline_may_do_what_its_processors_may_under_its_own_group_and_transactional_ids() -> None:
    pipeline = service("pipeline").permissions(SETTINGS)
    hosted = [service(name).permissions(SETTINGS) for name in ("order-details", "fraud", "inventory", "aggregator")]
    hosted.append(service("routing").permissions(SETTINGS))
    join = names("payments", "payments-by-order", "enriched-orders", "email-join-changelog")

    assert pipeline.reads == frozenset().union(*(p.reads for p in hosted)) | join
    join_writes = names("payments-by-order", "email-join-changelog", "email-requests")
    assert pipeline.writes == frozenset().union(*(p.writes for p in hosted)) | join_writes
    changelogs = ("fraud-check", "inventory-check", "validation-aggregator", "order-routing", "email-join")
    assert pipeline.groups == names("pipeline", *(f"{name}-changelog-restore" for name in changelogs))
    assert pipeline.transactional_id_prefixes == names("pipeline-")
    assert pipeline.observed_groups == names(*changelogs, "order-details-check")


def test_in_the_combined_layout_the_email_service_only_sends() -> None:
    sender = service("notifications", "combined").permissions(SETTINGS)

    assert sender.reads == names("email-requests")
    assert sender.writes == names("dead-letters")
    assert sender.groups == names("email-sender") and not sender.transactional_id_prefixes


def test_the_email_service_has_the_join_and_the_senders_outbox() -> None:
    permissions = service("notifications").permissions(SETTINGS)

    assert permissions.reads == names(
        "payments", "payments-by-order", "enriched-orders", "email-join-changelog", "email-requests"
    )
    assert permissions.writes == names("payments-by-order", "email-requests", "dead-letters", "email-join-changelog")
    assert permissions.groups == names("email-join", "email-join-changelog-restore", "email-sender")


def test_routing_writes_every_level_topic_and_the_customer_keyed_events() -> None:
    assert (
        names("platinum", "gold", "silver", "bronze", "enriched-orders", "customer-orders")
        <= service("routing").permissions(SETTINGS).writes
    )


def test_the_aggregator_reads_the_order_commands() -> None:
    assert names("orders", "order-validations", "order-commands") <= service("aggregator").permissions(SETTINGS).reads


def test_each_kind_of_service_has_a_user_of_its_own() -> None:
    users = [s.user(SETTINGS) for s in SERVICES]

    assert len(set(users)) == len(SERVICES) and "ns.fraud-check" in users


def test_the_acls_allow_exactly_the_permissions() -> None:
    permissions = Permissions(
        reads=frozenset({"in"}),
        writes=frozenset({"out"}),
        groups=frozenset({"g"}),
        transactional_id_prefixes=frozenset({"tx-"}),
    )

    acls = {
        (acl.restype, acl.name, acl.resource_pattern_type, acl.operation, acl.principal)
        for acl in permissions.acls("u")
    }

    topic, group, tx = ResourceType.TOPIC, ResourceType.GROUP, ResourceType.TRANSACTIONAL_ID
    literal, prefixed = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
    op = AclOperation
    assert acls == {
        (topic, "in", literal, op.READ, "User:u"),
        (topic, "in", literal, op.DESCRIBE, "User:u"),
        (topic, "in", literal, op.DESCRIBE_CONFIGS, "User:u"),
        (topic, "out", literal, op.WRITE, "User:u"),
        (topic, "out", literal, op.DESCRIBE, "User:u"),
        (topic, "out", literal, op.DESCRIBE_CONFIGS, "User:u"),
        (group, "g", literal, op.READ, "User:u"),
        (tx, "tx-", prefixed, op.WRITE, "User:u"),
        (tx, "tx-", prefixed, op.DESCRIBE, "User:u"),
    }
