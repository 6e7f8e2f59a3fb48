"""Calls and reads that the workflow tests share."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable

import grpc
from confluent_kafka import Consumer, KafkaError, TopicPartition

from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import command_service_pb2, events_pb2, order_pb2, query_service_pb2
from orders.codec import TERMINAL_STATES_PB
from streams.kafka import partition_count
from tests.support.platform import Platform

TERMINAL = TERMINAL_STATES_PB


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def unique_customer() -> int:
    return uuid.uuid4().int % 10**12 + 1


def place(
    platform: Platform,
    product: str,
    quantity: int = 1,
    price: float = 10.0,
    customer_id: int | None = None,
    order_id: str | None = None,
) -> command_service_pb2.PlaceOrderResponse:
    request = command_service_pb2.PlaceOrderRequest(
        order_id=order_id or unique("order"),
        customer_id=customer_id if customer_id is not None else unique_customer(),
        product=product,
        quantity=quantity,
        price=price,
    )
    return platform.commands.PlaceOrder(request, timeout=15)


def set_stock(platform: Platform, product: str, quantity: int) -> inventory_pb2.ProductStock:
    request = inventory_pb2.SetStockRequest(product=product, quantity=quantity)
    return platform.inventory.SetStock(request, timeout=20).stock


def final_state(platform: Platform, order_id: str, timeout_s: float = 30.0) -> order_pb2.Order:
    """The order's terminal state, as WatchOrder streams it."""
    last = None
    for update in platform.queries.WatchOrder(
        query_service_pb2.WatchOrderRequest(order_id=order_id), timeout=timeout_s
    ):
        last = update.order
    assert last is not None and last.state in TERMINAL, f"watch of {order_id} ended at {last}"
    return last


def outcome(order: order_pb2.Order, check: int) -> order_pb2.CheckOutcome:
    found = [c for c in order.checks if c.check_type == check]
    assert len(found) == 1, f"expected one outcome of check {check} in {order}"
    return found[0]


def eventually(condition: Callable[[], object], timeout_s: float = 20.0, what: str = "condition") -> object:
    """Waits for an asynchronous effect: the e2e way, retries within a bound."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s}s (last value {value!r})")
        time.sleep(0.1)


def commit_offset(bootstrap: str, group: str, topic: str, offset: int, partition: int = 0) -> None:
    """Commits an offset for a consumer group, as a member of it would."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(topic, partition, offset)], asynchronous=False)
    finally:
        consumer.close()


def read_topic(
    bootstrap: str, topic: str, partitions: Iterable[int] | None = None
) -> list[tuple[bytes | None, bytes | None]]:
    """Every committed record of a topic now, as (key, value)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("reader"),
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    records: list[tuple[bytes | None, bytes | None]] = []
    if partitions is None:
        partitions = range(partition_count(bootstrap, topic))
    try:
        wanted = []
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if high > low:
                wanted.append(TopicPartition(topic, partition, low))
        if not wanted:
            return records
        consumer.assign(wanted)
        remaining = len(wanted)
        while remaining:
            message = consumer.poll(10)
            assert message is not None, f"reading {topic} stalled"
            if message.error():
                assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                remaining -= 1
                continue
            records.append((message.key(), message.value()))
    finally:
        consumer.close()
    return records


def order_events(bootstrap: str, topic: str) -> list[events_pb2.OrderEvent]:
    return [events_pb2.OrderEvent.FromString(v) for _, v in read_topic(bootstrap, topic) if v]


def rpc_error(call: Callable[[], object]) -> grpc.RpcError:
    try:
        call()
    except grpc.RpcError as error:
        return error
    raise AssertionError("the call succeeded")
