"""project_batch: which view entries a batch of records changes."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.adapters.projector import project_batch
from gateway.adapters.view import decode_history, history_key, history_prefix, order_key, stock_key
from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import order_pb2, query_service_pb2
from orders import codec
from orders.domain import Check, CheckOutcome, Order, OrderDetails, Result
from streams.records import Record
from topology.topics import Topics

TOPICS = Topics()
ALL_PASSED = tuple(CheckOutcome(c, Result.PASS) for c in Check)


def order_events(order_id: str = "o-1", verdict: str | None = None) -> list[bytes]:
    """The serialized events of one order, one write at a time as the services emit them:
    placed, then optionally validated or failed."""
    order = Order.place(OrderDetails(order_id, 5, "JUMPERS", 1, 10.0))
    written = codec.events_to_pb(order, order.collect_events())
    if verdict == "validated":
        order.validate(checks=ALL_PASSED)
    elif verdict == "failed":
        order.fail(checks=ALL_PASSED)
    written += codec.events_to_pb(order, order.collect_events())
    return [e.SerializeToString() for e in written]


def records(topic: str, values: Iterable[bytes]) -> list[Record]:
    return [Record(topic, 0, offset, b"k", value, 0) for offset, value in enumerate(values)]


def project(batch: list[Record], view: dict[bytes, bytes] | None = None) -> dict[bytes, bytes]:
    return project_batch(batch, TOPICS, (view or {}).get)


def stored_order(changes: dict[bytes, bytes], order_id: str = "o-1") -> order_pb2.Order:
    return order_pb2.Order.FromString(changes[order_key(order_id)])


def test_a_placed_order_enters_the_view() -> None:
    changes = project(records(TOPICS.orders, order_events()[:1]))

    order = stored_order(changes)
    assert (order.order_id, order.state, order.version) == ("o-1", order_pb2.ORDER_STATE_CREATED, 1)


def test_a_newer_version_replaces_the_older_in_one_batch() -> None:
    placed, validated = order_events(verdict="validated")

    changes = project(records(TOPICS.orders, [placed, validated]))

    assert stored_order(changes).state == order_pb2.ORDER_STATE_VALIDATED
    assert stored_order(changes).version == 2


def test_a_newer_version_replaces_what_the_view_already_holds() -> None:
    placed, failed = order_events(verdict="failed")
    view = project(records(TOPICS.orders, [placed]))

    changes = project(records(TOPICS.orders, [failed]), view)

    assert stored_order(changes).state == order_pb2.ORDER_STATE_FAILED


def test_an_older_version_arriving_later_is_skipped() -> None:
    placed, validated = order_events(verdict="validated")

    in_batch = project(records(TOPICS.orders, [validated, placed]))
    across_batches = project(records(TOPICS.orders, [placed]), view=in_batch)

    assert stored_order(in_batch).state == order_pb2.ORDER_STATE_VALIDATED
    assert across_batches == {}


def test_a_redelivered_version_changes_nothing() -> None:
    placed, validated = order_events(verdict="validated")
    view = project(records(TOPICS.orders, [placed, validated]))

    assert project(records(TOPICS.orders, [placed, validated]), view) == {}


def test_undecodable_order_records_are_skipped_and_the_rest_projected() -> None:
    (placed,) = order_events("good")

    changes = project(records(TOPICS.orders, [b"\xff\xfe garbage", b"", placed]))

    assert list(changes)[:2] == [order_key("good"), history_key("good", 1)]
    assert all(key.startswith(b"x/") for key in list(changes)[2:])  # the good one's list entries


def test_each_event_taken_is_appended_to_the_order_s_history_with_its_place_in_the_log() -> None:
    placed, validated = order_events(verdict="validated")
    view = project(records(TOPICS.orders, [placed]))
    order = codec.rehydrate(stored_order(project(records(TOPICS.orders, [validated]), view)))
    order.cancel(reason="too slow")
    (cancelled_event,) = codec.events_to_pb(order, order.collect_events())

    view.update(project(records(TOPICS.orders, [placed, validated, cancelled_event.SerializeToString()]), view))
    # A redelivery of the whole history adds nothing.
    assert project(records(TOPICS.orders, [placed, validated, cancelled_event.SerializeToString()]), view) == {}

    history = [decode_history(v) for k, v in sorted(view.items()) if k.startswith(history_prefix("o-1"))]
    assert [(offset, e.version, e.kind, e.state) for _p, offset, e in history] == [
        (0, 1, query_service_pb2.ORDER_EVENT_KIND_PLACED, order_pb2.ORDER_STATE_CREATED),
        (1, 2, query_service_pb2.ORDER_EVENT_KIND_VALIDATED, order_pb2.ORDER_STATE_VALIDATED),
        (2, 3, query_service_pb2.ORDER_EVENT_KIND_CANCELLED, order_pb2.ORDER_STATE_CANCELLED),
    ]
    assert [len(e.checks) for _p, _o, e in history] == [0, len(ALL_PASSED), 0]
    assert history[2][2].reason == "too slow"


def test_orders_are_projected_independently() -> None:
    changes = project(records(TOPICS.orders, order_events("a") + order_events("b", verdict="failed")))

    assert stored_order(changes, "a").state == order_pb2.ORDER_STATE_CREATED
    assert stored_order(changes, "b").state == order_pb2.ORDER_STATE_FAILED


def inventory_level(product: str, quantity: int, reserved: int) -> bytes:
    level = inventory_pb2.InventoryLevel(product=product, stocked=True, quantity=quantity, reserved=reserved)
    return level.SerializeToString()


def test_inventory_levels_are_stored_latest_wins() -> None:
    latest = inventory_level("JUMPERS", 10, 3)

    changes = project(records(TOPICS.inventory_levels, [inventory_level("JUMPERS", 10, 1), latest]))

    assert changes == {stock_key("JUMPERS"): latest}


def test_undecodable_inventory_levels_are_skipped() -> None:
    good = inventory_level("UNDERPANTS", 75, 0)

    changes = project(records(TOPICS.inventory_levels, [b"\xff\xff\xff", good]))

    assert changes == {stock_key("UNDERPANTS"): good}


def test_records_of_other_topics_are_ignored() -> None:
    assert project(records(TOPICS.order_validations, order_events())) == {}
