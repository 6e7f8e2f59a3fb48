"""Order events and orders between the domain and their protobuf records."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from oms.orders.v1 import events_pb2, order_pb2
from orders.domain import CLOSED_STATES, TERMINAL_STATES, Check, CheckOutcome, Order, OrderState, Result

# The domain's enums and the contract's, matched by name (CHECK_TYPE_FRAUD is
# Check.FRAUD): a new check needs no entry here, only its value in order.proto.
_STATE_TO_PB = {
    state: cast(order_pb2.OrderState, order_pb2.OrderState.Value(f"ORDER_STATE_{state.name}")) for state in OrderState
}
_CHECK_TO_PB = {
    check: cast(order_pb2.CheckType, order_pb2.CheckType.Value(f"CHECK_TYPE_{check.name}")) for check in Check
}
_RESULT_TO_PB = {
    result: cast(order_pb2.CheckResult, order_pb2.CheckResult.Value(f"CHECK_RESULT_{result.name}")) for result in Result
}
_CHECK_FROM_PB = {v: k for k, v in _CHECK_TO_PB.items()}
# The terminal states (orders.domain.TERMINAL_STATES) as protobuf enum values.
TERMINAL_STATES_PB = frozenset(_STATE_TO_PB[state] for state in TERMINAL_STATES)
# The closed states (orders.domain.CLOSED_STATES) as protobuf enum values.
CLOSED_STATES_PB = frozenset(_STATE_TO_PB[state] for state in CLOSED_STATES)
_STATE_FROM_PB = {v: k for k, v in _STATE_TO_PB.items()}
_RESULT_FROM_PB = {v: k for k, v in _RESULT_TO_PB.items()}


class UndecodableEvent(ValueError):
    """Bytes that are not a well-formed order event."""


def timestamp(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def outcome_to_pb(outcome: CheckOutcome) -> order_pb2.CheckOutcome:
    return order_pb2.CheckOutcome(
        check_type=_CHECK_TO_PB[outcome.check], result=_RESULT_TO_PB[outcome.result], reason=outcome.reason
    )


def outcome_from_pb(outcome: order_pb2.CheckOutcome) -> CheckOutcome:
    try:
        return CheckOutcome(_CHECK_FROM_PB[outcome.check_type], _RESULT_FROM_PB[outcome.result], outcome.reason)
    except KeyError as exc:
        raise UndecodableEvent(f"unknown check type or result in {outcome}") from exc


def order_to_pb(order: Order, placed_at: datetime | None = None) -> order_pb2.Order:
    pb = order_pb2.Order(
        order_id=order.order_id,
        customer_id=order.customer_id,
        product=order.product,
        quantity=order.quantity,
        price=order.price,
        state=_STATE_TO_PB[order.state],
        checks=[outcome_to_pb(c) for c in order.checks],
        version=order.version,
        placed_at=timestamp(placed_at or order.created_on),
        updated_at=timestamp(order.modified_on),
    )
    return pb


def events_to_pb(order: Order, pending: Sequence[Any]) -> list[events_pb2.OrderEvent]:
    """The records for an aggregate's new events (from `collect_events()`).

    Each record carries the order as it stood right after its own event: the
    events of a new order are replayed from scratch to get those snapshots.
    """
    if not pending:
        return []
    if isinstance(pending[0], Order.Placed):
        replica: Order | None = None
        records = []
        for domain_event in pending:
            replica = domain_event.mutate(replica)
            assert replica is not None
            records.append(_event_record(replica, domain_event))
        return records
    if len(pending) > 1:
        raise ValueError("several new events of an existing order cannot be given their own snapshots")
    return [_event_record(order, pending[0])]


def _event_record(order: Order, domain_event: Order.Event) -> events_pb2.OrderEvent:
    record = events_pb2.OrderEvent(
        order_id=order.order_id,
        version=domain_event.originator_version,
        occurred_at=timestamp(domain_event.timestamp),
        order=order_to_pb(order),
    )
    if isinstance(domain_event, Order.Placed):
        record.placed.CopyFrom(
            events_pb2.OrderPlaced(
                customer_id=order.customer_id, product=order.product, quantity=order.quantity, price=order.price
            )
        )
    elif isinstance(domain_event, Order.Validated):
        record.validated.checks.extend(outcome_to_pb(c) for c in domain_event.checks)
    elif isinstance(domain_event, Order.Failed):
        record.failed.checks.extend(outcome_to_pb(c) for c in domain_event.checks)
    elif isinstance(domain_event, Order.Cancelled):
        record.cancelled.reason = domain_event.reason
    elif isinstance(domain_event, Order.Shipped):
        record.shipped.paid = domain_event.paid
    else:  # pragma: no cover - a new domain event without a record is a bug
        raise TypeError(f"no record for {type(domain_event).__name__}")
    return record


def decode_event(data: bytes | None) -> events_pb2.OrderEvent:
    if not data:
        raise UndecodableEvent("empty order event")
    try:
        record = events_pb2.OrderEvent.FromString(data)
    except DecodeError as exc:
        raise UndecodableEvent(f"not an OrderEvent: {exc}") from exc
    if not record.order_id or record.WhichOneof("kind") is None or not record.HasField("order"):
        raise UndecodableEvent("order event without order id, kind or order")
    return record


def decode_validation(data: bytes | None) -> events_pb2.OrderValidation:
    """An OrderValidation with an order id and a known check and result."""
    try:
        validation = events_pb2.OrderValidation.FromString(data or b"")
        outcome_from_pb(validation.outcome)  # rejects unknown checks and results
    except (DecodeError, UndecodableEvent) as exc:
        raise UndecodableEvent(f"not an OrderValidation: {exc}") from exc
    if not validation.order_id:
        raise UndecodableEvent("validation without an order id")
    return validation


class _EventCodec:
    """Order events on `orders` (a streams Codec): decoding checks them."""

    def encode(self, event: events_pb2.OrderEvent) -> bytes:
        return event.SerializeToString()

    def decode(self, raw: bytes) -> events_pb2.OrderEvent:
        return decode_event(raw)


class _ValidationCodec:
    """Check outcomes on `order-validations` (a streams Codec)."""

    def encode(self, validation: events_pb2.OrderValidation) -> bytes:
        return validation.SerializeToString()

    def decode(self, raw: bytes) -> events_pb2.OrderValidation:
        return decode_validation(raw)


ORDER_EVENTS = _EventCodec()
VALIDATIONS = _ValidationCodec()


def state_from_pb(state: int) -> OrderState:
    try:
        return _STATE_FROM_PB[cast(order_pb2.OrderState, state)]
    except KeyError as exc:
        raise UndecodableEvent(f"unknown order state {state}") from exc


def rehydrate(snapshot: order_pb2.Order) -> Order:
    """The aggregate from its latest snapshot (an event's `order`), ready for
    its next command: the placement replayed, then the snapshot's state,
    checks, version and time of the last change."""
    if snapshot.version < 1 or snapshot.state == order_pb2.ORDER_STATE_UNSPECIFIED:
        raise ValueError(f"order {snapshot.order_id} has no snapshot to rehydrate")
    # The event's fields are made a dataclass's at run time, out of mypy's sight.
    fields: dict[str, Any] = {
        "originator_id": Order.create_id(snapshot.order_id),
        "originator_version": 1,
        "timestamp": snapshot.placed_at.ToDatetime(tzinfo=UTC),
        "originator_topic": Order.Placed.__module__ + ":" + Order.__qualname__,
        "order_id": snapshot.order_id,
        "customer_id": snapshot.customer_id,
        "product": snapshot.product,
        "quantity": snapshot.quantity,
        "price": snapshot.price,
    }
    order = cast(Order, Order.Placed(**fields).mutate(None))
    if snapshot.version > 1:
        order.state = state_from_pb(snapshot.state)
        order.checks = tuple(outcome_from_pb(c) for c in snapshot.checks)
        order.version = snapshot.version
        order.modified_on = snapshot.updated_at.ToDatetime(tzinfo=UTC)
    return order
