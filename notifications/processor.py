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

from collections.abc import Iterator

from notifications.message import email_id
from oms.notifications.v1 import email_pb2
from oms.payments.v1 import payments_pb2
from oms.routing.v1 import state_pb2
from streams.codecs import BYTES, EMPTY, INT64, STR, PartsCodec, protobuf
from streams.processor import Processor, decode
from streams.records import Output, PoisonRecord, Record
from streams.state import PartitionState
from streams.stores import Store, Timers
from topology.topics import Topics

# How far behind stream time a side may arrive and still join: covers the
# order side's longer path (through the order routing and its customer grace).
LATE_ARRIVAL_GRACE_MS = 5 * 60 * 1000

PAYMENTS = protobuf(payments_pb2.Payment)
CUSTOMER_ORDERS = protobuf(state_pb2.CustomerOrder)


def within_window(order_ms: int, payment_ms: int, window_ms: int) -> bool:
    return abs(order_ms - payment_ms) <= window_ms


class EmailJoinProcessor(Processor):
    name = "email-join"
    stateful = True

    # The order side, waiting for a payment.
    orders = Store("order", STR, CUSTOMER_ORDERS)
    # The payment side, waiting for its order: (order id, payment id) -> Payment.
    payments = Store("payment", PartsCodec(2), PAYMENTS)
    # Orders whose email was asked for.
    done = Store("done", STR, EMPTY)
    # Stream time: the latest event time the partition has seen.
    clock = Store("clock", STR, INT64)
    # The state keys above, by when stream time lets them go.
    expiry = Timers("due", BYTES)

    def __init__(self, topics: Topics, window_ms: int) -> None:
        self.topics = topics
        self.window_ms = window_ms
        self.inputs = (topics.payments, topics.payments_by_order, topics.enriched_orders)
        self.outputs = (topics.payments_by_order, topics.email_requests)

    def process(self, record: Record, state: PartitionState) -> Iterator[Output]:
        if record.topic == self.topics.payments:
            yield from self._rekey(record)
        elif record.topic == self.topics.payments_by_order:
            yield from self._on_payment(decode(record, PAYMENTS), state)
        else:
            yield from self._on_order(decode(record, CUSTOMER_ORDERS), state)

    def _rekey(self, record: Record) -> Iterator[Output]:
        payment = decode(record, PAYMENTS)
        if not payment.payment_id or not payment.order_id:
            raise PoisonRecord("payment without a payment id or order id")
        if not payment.HasField("recorded_at"):
            payment.recorded_at.FromMilliseconds(record.timestamp_ms)
        yield Output(self.topics.payments_by_order, payment.order_id.encode(), payment.SerializeToString())

    def _on_payment(self, payment: payments_pb2.Payment, state: PartitionState) -> Iterator[Output]:
        order_id = payment.order_id
        payment_ms = payment.recorded_at.ToMilliseconds()
        self._advance(state, payment_ms)
        if self.done.has(state, order_id):
            return
        order = self.orders.get(state, order_id)
        if order is not None and within_window(order.order.placed_at.ToMilliseconds(), payment_ms, self.window_ms):
            yield from self._join(order, payment, state)
            return
        key = (order_id, payment.payment_id)
        self.payments.put(state, key, payment)
        self.expiry.schedule(state, self._expiry(payment_ms), self.payments.raw_key(key))

    def _on_order(self, order: state_pb2.CustomerOrder, state: PartitionState) -> Iterator[Output]:
        order_id = order.order.order_id
        if not order_id:
            raise PoisonRecord("customer order without an order id")
        order_ms = order.order.placed_at.ToMilliseconds()
        self._advance(state, order_ms)
        if self.done.has(state, order_id):
            return
        waiting = sorted(
            (payment for _, payment in self.payments.scan(state, order_id)),
            key=lambda p: p.recorded_at.ToMilliseconds(),
        )
        for payment in waiting:
            if within_window(order_ms, payment.recorded_at.ToMilliseconds(), self.window_ms):
                yield from self._join(order, payment, state)
                return
        self.orders.put(state, order_id, order)
        self.expiry.schedule(state, self._expiry(order_ms), self.orders.raw_key(order_id))

    def _join(
        self, order: state_pb2.CustomerOrder, payment: payments_pb2.Payment, state: PartitionState
    ) -> Iterator[Output]:
        order_id = order.order.order_id
        request = email_pb2.EmailRequested(
            email_id=email_id(order_id), order_id=order_id, customer=order.customer, order=order.order, payment=payment
        )
        yield Output(self.topics.email_requests, order_id.encode(), request.SerializeToString())
        # The sides are dropped now; their expiry entries find nothing later.
        self.orders.delete(state, order_id)
        for key, _ in self.payments.scan(state, order_id):
            self.payments.delete(state, key)
        latest = max(order.order.placed_at.ToMilliseconds(), payment.recorded_at.ToMilliseconds())
        self.done.put(state, order_id, None)
        self.expiry.schedule(state, self._expiry(latest), self.done.raw_key(order_id))

    def _expiry(self, event_ms: int) -> int:
        return event_ms + self.window_ms + LATE_ARRIVAL_GRACE_MS

    def _advance(self, state: PartitionState, event_ms: int) -> None:
        stream_ms = self.clock.get(state, "")
        if stream_ms is None or stream_ms < event_ms:
            self.clock.put(state, "", event_ms)

    def punctuate(self, now_ms: int, state: PartitionState) -> Iterator[Output]:
        """Drops what stream time has left behind (not the wall clock: see above)."""
        stream_ms = self.clock.get(state, "")
        if stream_ms is not None:
            for _, key in self.expiry.due(state, stream_ms):
                state.delete(key)
        return iter(())
