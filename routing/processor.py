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

It also re-keys every order event (every state change, not only placements)
by customer id to `customer-orders`, which the gateway projects into its
customer-keyed view (ListOrders and WatchOrders by customer).
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.timestamp_pb2 import Timestamp

from oms.customers.v1 import customers_pb2
from oms.orders.v1 import order_pb2
from oms.routing.v1 import order_enriched_pb2, state_pb2
from orders.codec import ORDER_EVENTS
from routing.levels import UnknownLevel, effective_level, level_name
from streams.codecs import BYTES, PartsCodec, protobuf
from streams.processor import Processor, decode
from streams.records import Output, PoisonRecord, Record
from streams.state import PartitionState
from streams.stores import Store, Timers
from topology.deadletters import DeadLetters
from topology.topics import CUSTOMER_LEVELS, Topics

CUSTOMERS = protobuf(customers_pb2.Customer)
ORDERS = protobuf(order_pb2.Order)


def customer_key(customer_id: int) -> bytes:
    """The key of a customer on `customers` and `orders-by-customer`."""
    return str(customer_id).encode()


def _timestamp(ms: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMilliseconds(ms)
    return ts


class OrderRoutingProcessor(Processor):
    name = "order-routing"
    stateful = True

    # The customers table, by the customer's key on `customers`.
    customers = Store("customer", BYTES, CUSTOMERS)
    # Orders waiting for their customer: (customer id, order id) -> PendingOrder.
    pending = Store("pending", PartsCodec(2), protobuf(state_pb2.PendingOrder))
    # (customer id, order id) of each waiting order, by the end of its grace.
    graces = Timers("due", PartsCodec(2))

    def __init__(self, topics: Topics, customer_grace_ms: int, dead_letters: DeadLetters) -> None:
        self.topics = topics
        self.customer_grace_ms = customer_grace_ms
        self.dead_letters = dead_letters
        self.inputs = (topics.orders, topics.customers, topics.orders_by_customer)
        self.outputs = (
            topics.orders_by_customer,
            *(topics.level(level) for level in CUSTOMER_LEVELS),
            topics.enriched_orders,
            topics.customer_orders,
        )

    def process(self, record: Record, state: PartitionState) -> Iterator[Output]:
        if record.topic == self.topics.orders:
            yield from self._rekey(record)
        elif record.topic == self.topics.customers:
            yield from self._on_customer(record, state)
        else:
            yield from self._on_order(record, state)

    def _rekey(self, record: Record) -> Iterator[Output]:
        event = decode(record, ORDER_EVENTS)
        # Every change of an order, re-keyed by customer, for the gateway's
        # customer-keyed view (ListOrders and WatchOrders by customer).
        yield Output(self.topics.customer_orders, customer_key(event.order.customer_id), record.value)
        if event.WhichOneof("kind") != "placed":
            return  # one routing per order, not one per state change
        order = event.order
        yield Output(self.topics.orders_by_customer, customer_key(order.customer_id), order.SerializeToString())

    def _on_customer(self, record: Record, state: PartitionState) -> Iterator[Output]:
        if not record.key:
            raise PoisonRecord("customer record without a key")
        if record.value is None:  # a tombstone: the customer is gone
            self.customers.delete(state, record.key)
            return
        customer = decode(record, CUSTOMERS)
        try:
            level_name(customer.level)
        except UnknownLevel as exc:
            raise PoisonRecord(f"not a valid Customer: {exc}") from exc
        if customer_key(customer.customer_id) != record.key:
            raise PoisonRecord(f"customer {customer.customer_id} under key {record.key!r}")
        self.customers.put(state, record.key, customer)
        # Orders that came a little before their customer go now.
        customer_id = str(customer.customer_id)
        for key, pending in self.pending.scan(state, customer_id):
            self.pending.delete(state, key)
            self.graces.cancel(state, pending.deadline.ToMilliseconds(), key)
            yield from self._route(pending.order, customer)

    def _on_order(self, record: Record, state: PartitionState) -> Iterator[Output]:
        order = decode(record, ORDERS)
        if not order.order_id or record.key != customer_key(order.customer_id):
            raise PoisonRecord(f"order {order.order_id!r} of customer {order.customer_id} under key {record.key!r}")
        customer = self.customers.get(state, record.key)
        if customer is not None:
            yield from self._route(order, customer)
            return
        deadline_ms = record.timestamp_ms + self.customer_grace_ms
        pending = state_pb2.PendingOrder(
            order=order,
            deadline=_timestamp(deadline_ms),
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
        )
        key = (str(order.customer_id), order.order_id)
        self.pending.put(state, key, pending)
        self.graces.schedule(state, deadline_ms, key)

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
        for _, key in self.graces.due(state, now_ms):
            pending = self.pending.get(state, key)
            if pending is None:
                continue
            self.pending.delete(state, key)
            yield self._unknown_customer(pending, now_ms)

    def _unknown_customer(self, pending: state_pb2.PendingOrder, now_ms: int) -> Output:
        order = pending.order
        source = Record(
            pending.source_topic,
            pending.source_partition,
            pending.source_offset,
            customer_key(order.customer_id),
            order.SerializeToString(),
            now_ms,
        )
        reason = (
            f"order {order.order_id} not routed: customer {order.customer_id} is unknown"
            f" (no customer record within {self.customer_grace_ms} ms of the order)"
        )
        return self.dead_letters(source, reason, self.name, now_ms, key=order.order_id.encode())
