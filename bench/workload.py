"""The records benchmarks pre-fill topics with: order events as the gateway
writes them, the three checks' answers, and stock levels."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from confluent_kafka import Producer

from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import events_pb2, order_pb2
from orders import codec
from orders.domain import Order, OrderDetails

PRODUCTS = 100
CUSTOMERS = 20_000
# Small amounts: no customer reaches the fraud limit, so every check passes.
PRICE = 1.0
CHECKS = (order_pb2.CHECK_TYPE_ORDER_DETAILS, order_pb2.CHECK_TYPE_FRAUD, order_pb2.CHECK_TYPE_INVENTORY)


def product(i: int) -> str:
    return f"BENCH-{i % PRODUCTS:03d}"


def customer(i: int) -> int:
    return 1 + i % CUSTOMERS


class PlacedEvents:
    """OrderPlaced records, as the gateway writes them, fast: one event made
    by the domain is the template, and each order changes its ids."""

    def __init__(self, run: str | None = None) -> None:
        self.run = run or uuid.uuid4().hex[:8]
        order = Order.place(OrderDetails(self.order_id(0), customer(0), product(0), 1, PRICE))
        (self._template,) = codec.events_to_pb(order, order.collect_events())

    def order_id(self, i: int) -> str:
        return f"order-{self.run}-{i:08d}"

    def event(self, i: int, placed_at_ms: int) -> tuple[bytes, bytes]:
        event = events_pb2.OrderEvent()
        event.CopyFrom(self._template)
        order_id, cust, prod = self.order_id(i), customer(i), product(i)
        event.order_id = order_id
        event.placed.customer_id = cust
        event.placed.product = prod
        event.order.order_id = order_id
        event.order.customer_id = cust
        event.order.product = prod
        event.order.placed_at.FromMilliseconds(placed_at_ms)
        event.order.updated_at.FromMilliseconds(placed_at_ms)
        event.occurred_at.FromMilliseconds(placed_at_ms)
        return order_id.encode(), event.SerializeToString()

    def record_size(self) -> int:
        return len(self.event(0, int(time.time() * 1000))[1])


def producer(bootstrap: str) -> Producer:
    """The gateway's producer settings (idempotent, acks=all, Java
    partitioner), with more batching: pre-filling is not what is measured."""
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": "murmur2_random",
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 1_000_000,
        }
    )


def produce_one(out: Producer, topic: str, key: bytes, value: bytes) -> None:
    """Produces, waiting for room while the local queue is full."""
    while True:
        try:
            out.produce(topic, value, key)
            return
        except BufferError:
            out.poll(0.01)


def produce_all(bootstrap: str, topic: str, records: Iterator[tuple[bytes, bytes]]) -> int:
    out = producer(bootstrap)
    count = 0
    for key, value in records:
        produce_one(out, topic, key, value)
        count += 1
        if count % 10_000 == 0:
            out.poll(0)
    if out.flush(120) != 0:
        raise RuntimeError(f"pre-filling {topic}: records left unsent")
    return count


def placed(events: PlacedEvents, count: int) -> Iterator[tuple[bytes, bytes]]:
    now_ms = int(time.time() * 1000)
    for i in range(count):
        yield events.event(i, now_ms)


def validations(events: PlacedEvents, count: int) -> Iterator[tuple[bytes, bytes]]:
    """A PASS from each of the three checks for every order."""
    for check in CHECKS:
        outcome = order_pb2.CheckOutcome(check_type=check, result=order_pb2.CHECK_RESULT_PASS)
        for i in range(count):
            order_id = events.order_id(i)
            record = events_pb2.OrderValidation(order_id=order_id, outcome=outcome)
            yield order_id.encode(), record.SerializeToString()


def stock_levels(quantity: int = 10**9) -> Iterator[tuple[bytes, bytes]]:
    for i in range(PRODUCTS):
        name = product(i)
        level = inventory_pb2.StockLevel(product=name, quantity=quantity, update_id=uuid.uuid4().hex)
        yield name.encode(), level.SerializeToString()
