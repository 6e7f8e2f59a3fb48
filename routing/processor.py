"""Order routing as a stream processor: a join of placed orders with the
customers table, partitioned by customer id.

`customers` is keyed by customer id, `orders` by order id. The processor
re-keys each placed order by its customer id through `orders-by-customer`,
so that an order and its customer's record land on the same partition
number of two co-partitioned topics, and so in the same task and state
store. There it looks the customer up and writes the order, once:

- as an `OrderEnriched` to the topic of the customer's level, keyed by
  order id again;
- as a `CustomerOrder` to `enriched-orders` (key: order id), the order side
  of the email join.

An order whose customer is not known yet waits `customer_grace_ms` for the
customer (who may be upserted just after the order); a customer record that
arrives in time releases it. After that it goes to the dead letters with the
reason. All of it in the processor's transactions: exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from oms.customers.v1 import customers_pb2
from oms.deadletter.v1.dead_letter_pb2 import DeadLetter
from oms.orders.v1 import order_pb2
from oms.routing.v1 import order_enriched_pb2, state_pb2
from orders import codec
from routing.levels import UnknownLevel, effective_level, level_name
from streams.records import Output, PoisonRecord, Record
from streams.state import PartitionState
from streams.topics import Topics


def customer_key(customer_id: int) -> bytes:
    """The key of a customer on `customers` and `orders-by-customer`."""
    return str(customer_id).encode()


def _customer_state_key(customer_id: bytes) -> bytes:
    return b"customer/" + customer_id


def _pending_prefix(customer_id: bytes) -> bytes:
    return b"pending/" + customer_id + b"/"


def _due_key(due_ms: int, customer_id: bytes, order_id: str) -> bytes:
    return b"due/%015d/" % due_ms + customer_id + b"/" + order_id.encode()


def _timestamp(ms: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMilliseconds(ms)
    return ts


class OrderRoutingProcessor:
    name = "order-routing"
    stateful = True

    def __init__(self, topics: Topics, customer_grace_ms: int) -> None:
        self.topics = topics
        self.customer_grace_ms = customer_grace_ms
        self.inputs = (topics.orders, topics.customers, topics.orders_by_customer)

    def process(self, record: Record, state: PartitionState) -> Iterator[Output]:
        if record.topic == self.topics.orders:
            yield from self._rekey(record)
        elif record.topic == self.topics.customers:
            yield from self._on_customer(record, state)
        else:
            yield from self._on_order(record, state)

    def _rekey(self, record: Record) -> Iterator[Output]:
        try:
            event = codec.decode_event(record.value)
        except codec.UndecodableEvent as exc:
            raise PoisonRecord(str(exc)) from exc
        if event.WhichOneof("kind") != "placed":
            return  # one routing per order, not one per state change
        order = event.order
        yield Output(self.topics.orders_by_customer, customer_key(order.customer_id), order.SerializeToString())

    def _on_customer(self, record: Record, state: PartitionState) -> Iterator[Output]:
        if not record.key:
            raise PoisonRecord("customer record without a key")
        if record.value is None:  # a tombstone: the customer is gone
            state.delete(_customer_state_key(record.key))
            return
        try:
            customer = customers_pb2.Customer.FromString(record.value)
            level_name(customer.level)
        except (DecodeError, UnknownLevel) as exc:
            raise PoisonRecord(f"not a valid Customer: {exc}") from exc
        if str(customer.customer_id).encode() != record.key:
            raise PoisonRecord(f"customer {customer.customer_id} under key {record.key!r}")
        state.put(_customer_state_key(record.key), record.value)
        # Orders that came a little before their customer go now.
        for key, raw in state.scan(_pending_prefix(record.key)):
            pending = state_pb2.PendingOrder.FromString(raw)
            state.delete(key)
            state.delete(_due_key(pending.deadline.ToMilliseconds(), record.key, pending.order.order_id))
            yield from self._route(pending.order, customer)

    def _on_order(self, record: Record, state: PartitionState) -> Iterator[Output]:
        try:
            order = order_pb2.Order.FromString(record.value or b"")
        except DecodeError as exc:
            raise PoisonRecord(f"not an Order: {exc}") from exc
        if not order.order_id or record.key != customer_key(order.customer_id):
            raise PoisonRecord(f"order {order.order_id!r} of customer {order.customer_id} under key {record.key!r}")
        raw = state.get(_customer_state_key(record.key))
        if raw is not None:
            yield from self._route(order, customers_pb2.Customer.FromString(raw))
            return
        deadline_ms = record.timestamp_ms + self.customer_grace_ms
        pending = state_pb2.PendingOrder(
            order=order,
            deadline=_timestamp(deadline_ms),
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
        )
        state.put(_pending_prefix(record.key) + order.order_id.encode(), pending.SerializeToString())
        state.put(_due_key(deadline_ms, record.key, order.order_id), b"")

    def _route(self, order: order_pb2.Order, customer: customers_pb2.Customer) -> Iterator[Output]:
        level = effective_level(customer.level)
        enriched = order_enriched_pb2.OrderEnriched(
            order_id=order.order_id, customer_id=order.customer_id, customer_level=level, order=order
        )
        key = order.order_id.encode()
        yield Output(self.topics.level(level_name(level)), key, enriched.SerializeToString())
        joined = state_pb2.CustomerOrder(order=order, customer=customer)
        yield Output(self.topics.enriched_orders, key, joined.SerializeToString())

    def punctuate(self, now_ms: int, state: PartitionState) -> Iterator[Output]:
        """Dead-letters the orders whose customer did not come in time."""
        for key, _ in state.scan(b"due/", until=b"due/%015d" % (now_ms + 1)):
            if int(key[4:19]) > now_ms:
                break
            state.delete(key)
            customer_id, order_id = key[20:].split(b"/", 1)
            pending_key = _pending_prefix(customer_id) + order_id
            raw = state.get(pending_key)
            if raw is None:
                continue
            state.delete(pending_key)
            yield self._unknown_customer(state_pb2.PendingOrder.FromString(raw), now_ms)

    def _unknown_customer(self, pending: state_pb2.PendingOrder, now_ms: int) -> Output:
        order = pending.order
        letter = DeadLetter(
            source_topic=pending.source_topic,
            source_partition=pending.source_partition,
            source_offset=pending.source_offset,
            key=customer_key(order.customer_id),
            value=order.SerializeToString(),
            reason=(
                f"order {order.order_id} not routed: customer {order.customer_id} is unknown"
                f" (no customer record within {self.customer_grace_ms} ms of the order)"
            ),
            processor=self.name,
            failed_at=_timestamp(now_ms),
        )
        return Output(self.topics.dead_letters, order.order_id.encode(), letter.SerializeToString())
