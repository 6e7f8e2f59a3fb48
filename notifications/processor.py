"""The email join: one EmailRequested per paid order, written to the outbox
topic `email-requests` inside the processor's transaction.

Both sides are keyed by order id: the order side is `enriched-orders` (the
placed order with its customer, from the order routing), the payment side
`payments` re-keyed from payment id to order id through `payments-by-order`.
An order and a payment join when their times (the order's `placed_at`, the
payment's `recorded_at`) are at most the window apart, whichever comes
first. The first join marks the order `done`, so a second payment, a
redelivery or a later state change never asks for a second email.

Unjoined sides wait in the state store until stream time (the latest event
time the partition has seen) passes their time plus the window plus a grace
for late arrivals; a quiet partition keeps its state rather than expire it
on the wall clock, so a backlog after an outage still joins.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from google.protobuf.message import DecodeError

from notifications.message import email_id
from oms.notifications.v1 import email_pb2
from oms.payments.v1 import payments_pb2
from oms.routing.v1 import state_pb2
from streams.records import Output, PoisonRecord, Record
from streams.state import PartitionState
from streams.topics import Topics

# How far behind stream time a side may arrive and still join: covers the
# order side's longer path (through the order routing and its customer grace).
LATE_ARRIVAL_GRACE_MS = 5 * 60 * 1000

_CLOCK = b"clock"


def within_window(order_ms: int, payment_ms: int, window_ms: int) -> bool:
    return abs(order_ms - payment_ms) <= window_ms


def _order_key(order_id: str) -> bytes:
    return b"order/" + order_id.encode()


def _payments_prefix(order_id: str) -> bytes:
    return b"payment/" + order_id.encode() + b"/"


def _done_key(order_id: str) -> bytes:
    return b"done/" + order_id.encode()


def _due_key(due_ms: int, entry: bytes) -> bytes:
    return b"due/%015d/" % due_ms + entry


class EmailJoinProcessor:
    name = "email-join"
    stateful = True

    def __init__(self, topics: Topics, window_ms: int) -> None:
        self.topics = topics
        self.window_ms = window_ms
        self.inputs = (topics.payments, topics.payments_by_order, topics.enriched_orders)

    def process(self, record: Record, state: PartitionState) -> Iterator[Output]:
        if record.topic == self.topics.payments:
            yield from self._rekey(record)
        elif record.topic == self.topics.payments_by_order:
            yield from self._on_payment(_parse(payments_pb2.Payment, record), state)
        else:
            yield from self._on_order(_parse(state_pb2.CustomerOrder, record), state)

    def _rekey(self, record: Record) -> Iterator[Output]:
        payment = _parse(payments_pb2.Payment, record)
        if not payment.payment_id or not payment.order_id:
            raise PoisonRecord("payment without a payment id or order id")
        if not payment.HasField("recorded_at"):
            payment.recorded_at.FromMilliseconds(record.timestamp_ms)
        yield Output(self.topics.payments_by_order, payment.order_id.encode(), payment.SerializeToString())

    def _on_payment(self, payment: payments_pb2.Payment, state: PartitionState) -> Iterator[Output]:
        order_id = payment.order_id
        payment_ms = payment.recorded_at.ToMilliseconds()
        self._advance(state, payment_ms)
        if state.get(_done_key(order_id)) is not None:
            return
        raw = state.get(_order_key(order_id))
        if raw is not None:
            order = state_pb2.CustomerOrder.FromString(raw)
            if within_window(order.order.placed_at.ToMilliseconds(), payment_ms, self.window_ms):
                yield from self._join(order, payment, state)
                return
        key = _payments_prefix(order_id) + payment.payment_id.encode()
        state.put(key, payment.SerializeToString())
        state.put(_due_key(self._expiry(payment_ms), key), b"")

    def _on_order(self, order: state_pb2.CustomerOrder, state: PartitionState) -> Iterator[Output]:
        order_id = order.order.order_id
        if not order_id:
            raise PoisonRecord("customer order without an order id")
        order_ms = order.order.placed_at.ToMilliseconds()
        self._advance(state, order_ms)
        if state.get(_done_key(order_id)) is not None:
            return
        waiting = sorted(
            (payments_pb2.Payment.FromString(raw) for _, raw in state.scan(_payments_prefix(order_id))),
            key=lambda p: p.recorded_at.ToMilliseconds(),
        )
        for payment in waiting:
            if within_window(order_ms, payment.recorded_at.ToMilliseconds(), self.window_ms):
                yield from self._join(order, payment, state)
                return
        key = _order_key(order_id)
        state.put(key, order.SerializeToString())
        state.put(_due_key(self._expiry(order_ms), key), b"")

    def _join(self, order: state_pb2.CustomerOrder, payment: payments_pb2.Payment, state: PartitionState) -> Iterator[Output]:
        order_id = order.order.order_id
        request = email_pb2.EmailRequested(
            email_id=email_id(order_id), order_id=order_id, customer=order.customer, order=order.order, payment=payment
        )
        yield Output(self.topics.email_requests, order_id.encode(), request.SerializeToString())
        # The sides are dropped now; their due entries find nothing later.
        state.delete(_order_key(order_id))
        for key, _ in state.scan(_payments_prefix(order_id)):
            state.delete(key)
        latest = max(order.order.placed_at.ToMilliseconds(), payment.recorded_at.ToMilliseconds())
        state.put(_done_key(order_id), b"")
        state.put(_due_key(self._expiry(latest), _done_key(order_id)), b"")

    def _expiry(self, event_ms: int) -> int:
        return event_ms + self.window_ms + LATE_ARRIVAL_GRACE_MS

    @staticmethod
    def _advance(state: PartitionState, event_ms: int) -> None:
        raw = state.get(_CLOCK)
        if raw is None or struct.unpack(">q", raw)[0] < event_ms:
            state.put(_CLOCK, struct.pack(">q", event_ms))

    def punctuate(self, now_ms: int, state: PartitionState) -> Iterator[Output]:
        """Drops what stream time has left behind (not the wall clock: see above)."""
        raw = state.get(_CLOCK)
        if raw is None:
            return iter(())
        stream_ms = struct.unpack(">q", raw)[0]
        for key, _ in state.scan(b"due/", until=b"due/%015d" % (stream_ms + 1)):
            if int(key[4:19]) > stream_ms:
                break
            state.delete(key)
            state.delete(key[20:])
        return iter(())


def _parse(message_type: type, record: Record):  # type: ignore[no-untyped-def]
    try:
        return message_type.FromString(record.value or b"")
    except DecodeError as exc:
        raise PoisonRecord(f"not a {message_type.__name__}: {exc}") from exc
