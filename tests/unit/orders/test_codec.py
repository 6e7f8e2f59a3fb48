"""Order events between the domain and their protobuf records."""

from __future__ import annotations

import pytest

from oms.orders.v1 import events_pb2, order_pb2
from orders import codec
from orders.domain import Check, CheckOutcome, Order, OrderDetails, OrderState, Result

DETAILS = OrderDetails("o-1", 5, "JUMPERS", 2, 12.5)
ALL_PASSED = tuple(CheckOutcome(c, Result.PASS) for c in Check)


def placed_record() -> events_pb2.OrderEvent:
    order = Order.place(DETAILS)
    (record,) = codec.events_to_pb(order, order.collect_events())
    return record


def test_an_order_placed_record_carries_the_details_and_a_created_snapshot() -> None:
    record = placed_record()

    assert record.WhichOneof("kind") == "placed"
    assert (record.order_id, record.version) == ("o-1", 1)
    assert (record.placed.customer_id, record.placed.product, record.placed.quantity, record.placed.price) == (
        5,
        "JUMPERS",
        2,
        12.5,
    )
    assert (record.order.state, record.order.version) == (order_pb2.ORDER_STATE_CREATED, 1)


def test_a_placed_record_round_trips_through_bytes() -> None:
    record = placed_record()

    assert codec.decode_event(record.SerializeToString()) == record


@pytest.mark.parametrize(
    "data",
    [None, b"", b"\xff\xfe\xfd", events_pb2.OrderEvent(order_id="o-1").SerializeToString()],
    ids=["none", "empty", "garbage", "no-kind-no-order"],
)
def test_what_is_not_a_whole_order_event_is_undecodable(data: bytes | None) -> None:
    with pytest.raises(codec.UndecodableEvent):
        codec.decode_event(data)


def test_a_rehydrated_order_takes_a_verdict_recorded_as_version_two() -> None:
    order = codec.rehydrate(placed_record().order)
    assert order.details == DETAILS

    order.validate(checks=ALL_PASSED)
    (record,) = codec.events_to_pb(order, order.collect_events())

    assert record.WhichOneof("kind") == "validated"
    assert (record.version, record.order.version, record.order.state) == (2, 2, order_pb2.ORDER_STATE_VALIDATED)
    assert [codec.outcome_from_pb(c) for c in record.validated.checks] == list(ALL_PASSED)


def test_a_rehydrated_validated_order_is_cancelled_as_version_three() -> None:
    order = Order.place(DETAILS)
    order.validate(checks=ALL_PASSED)
    validated = codec.order_to_pb(order)

    again = codec.rehydrate(validated)
    assert (again.state, again.version, again.checks) == (OrderState.VALIDATED, 2, ALL_PASSED)
    again.cancel(reason="changed my mind")
    (record,) = codec.events_to_pb(again, again.collect_events())

    assert (record.WhichOneof("kind"), record.cancelled.reason) == ("cancelled", "changed my mind")
    assert (record.version, record.order.version, record.order.state) == (3, 3, order_pb2.ORDER_STATE_CANCELLED)
    assert record.order.placed_at == validated.placed_at
    assert [codec.outcome_from_pb(c) for c in record.order.checks] == list(ALL_PASSED)


def test_a_shipment_record_carries_what_was_paid() -> None:
    order = Order.place(DETAILS)
    order.validate(checks=ALL_PASSED)
    again = codec.rehydrate(codec.order_to_pb(order))

    again.ship(paid=25.0)
    (record,) = codec.events_to_pb(again, again.collect_events())

    assert (record.WhichOneof("kind"), record.shipped.paid, record.version) == ("shipped", 25.0, 3)
    assert record.order.state == order_pb2.ORDER_STATE_SHIPPED


def test_a_snapshot_without_a_state_cannot_be_rehydrated() -> None:
    with pytest.raises(ValueError):
        codec.rehydrate(order_pb2.Order(order_id="o-1"))


def test_each_record_carries_the_order_as_of_its_own_event() -> None:
    order = Order.place(DETAILS)
    order.fail(checks=ALL_PASSED)

    placed, failed = codec.events_to_pb(order, order.collect_events())

    assert (placed.version, failed.version) == (1, 2)
    assert (placed.order.version, placed.order.state) == (1, order_pb2.ORDER_STATE_CREATED)
    assert (failed.order.version, failed.order.state) == (2, order_pb2.ORDER_STATE_FAILED)


def test_the_terminal_states_on_the_wire_are_the_domain_s() -> None:
    from oms.orders.v1 import order_pb2
    from orders.codec import TERMINAL_STATES_PB

    assert TERMINAL_STATES_PB == {
        order_pb2.ORDER_STATE_VALIDATED,
        order_pb2.ORDER_STATE_FAILED,
        order_pb2.ORDER_STATE_SHIPPED,
        order_pb2.ORDER_STATE_CANCELLED,
    }


def test_the_closed_states_on_the_wire_are_the_domain_s() -> None:
    assert codec.CLOSED_STATES_PB == {
        order_pb2.ORDER_STATE_FAILED,
        order_pb2.ORDER_STATE_SHIPPED,
        order_pb2.ORDER_STATE_CANCELLED,
    }


def test_every_check_result_and_state_of_the_domain_has_its_value_in_the_contract() -> None:
    for check in Check:
        outcome = codec.outcome_to_pb(CheckOutcome(check, Result.PASS))
        assert order_pb2.CheckType.Name(outcome.check_type) == f"CHECK_TYPE_{check.name}"
        assert codec.outcome_from_pb(outcome).check is check
    for result in Result:
        assert codec.outcome_from_pb(codec.outcome_to_pb(CheckOutcome(Check.FRAUD, result))).result is result
    assert {order_pb2.OrderState.Name(codec.order_to_pb(_order_in(state)).state) for state in OrderState} == {
        f"ORDER_STATE_{state.name}" for state in OrderState
    }


def _order_in(state: OrderState) -> Order:
    order = Order.place(OrderDetails("o-1", 7, "JUMPERS", 1, 1.0))
    order.state = state
    return order
