"""The read model on LevelDB: the gateway's view database, the projectors
that fill it, and the Notifier that wakes requests as it moves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

from gateway.adapters import order_index
from gateway.adapters.notifier import EndOffsets, Notifier, Watch
from gateway.adapters.tables import (
    customer_key,
    dead_letter_at,
    dead_letter_key,
    dead_letters_prefix,
    decode_paid,
    order_payments_prefix,
    paid_key,
    payment_id_of,
    payment_key,
)
from gateway.adapters.view import View, order_key, stock_key
from gateway.app.ports import (
    Cursor,
    DeadLetterCursor,
    HistoryEntry,
    Position,
    ReadModel,
    TopicPartition,
    Updates,
)
from oms.customers.v1 import customers_pb2
from oms.deadletter.v1 import dead_letter_pb2, dead_letter_service_pb2
from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import order_pb2, query_service_pb2
from oms.payments.v1 import payments_pb2
from streams.kafka import StreamsError
from streams.partitioning import partition_for

log = logging.getLogger(__name__)

T = TypeVar("T")


class DecodedUpdates(Updates[T]):
    def __init__(self, watch: Watch, decode: Callable[[bytes], T]) -> None:
        self._watch = watch
        self._decode = decode

    async def get(self) -> T:
        return self._decode(await self._watch.get())


class LevelDbReadModel(ReadModel):
    def __init__(
        self,
        view: View,
        notifier: Notifier,
        partitions: Mapping[str, int],
        end_offsets: EndOffsets,
        is_ready: Callable[[], bool],
        current: Callable[[], frozenset[TopicPartition]] = frozenset,
        tables_healthy: Callable[[], bool] = lambda: True,
        orders_topic: str = "orders",
        rekeyed_through: Callable[[dict[TopicPartition, int]], bool] | None = None,
    ) -> None:
        self._orders_topic = orders_topic
        # Whether the routing processor has re-keyed every order event before
        # these offsets of `orders` to `customer-orders` (blocking).
        self._rekeyed_through = rekeyed_through
        self.view = view
        self.notifier = notifier
        # Partition counts by topic.
        self._partitions = partitions
        self._end_offsets = end_offsets
        self._is_ready = is_ready
        self._current = current
        self._tables_healthy = tables_healthy

    def partition_of(self, topic: str, key: bytes) -> TopicPartition:
        return (topic, partition_for(key, self._partitions[topic]))

    def partition_count(self, topic: str) -> int:
        return self._partitions[topic]

    def holds(self, tp: TopicPartition) -> bool:
        return self.notifier.here(tp)

    def current(self, tp: TopicPartition) -> bool:
        return tp in self._current()

    def orders_ready(self) -> bool:
        return self._is_ready()

    def tables_healthy(self) -> bool:
        return self._tables_healthy()

    async def reached(self, position: Position) -> None:
        await self.notifier.reached(position.tp, position.offset + 1)

    async def caught_up(self, tp: TopicPartition) -> None:
        await self.notifier.caught_up(tp, self._end_offsets)

    def order(self, order_id: str) -> order_pb2.Order | None:
        return self.view.order(order_id)

    def stock(self, product: str) -> inventory_pb2.InventoryLevel | None:
        return self.view.stock(product)

    def customer(self, customer_id: int) -> customers_pb2.Customer | None:
        raw = self.view.get_raw(customer_key(customer_id))
        return None if raw is None else customers_pb2.Customer.FromString(raw)

    def payment(self, payment_id: str) -> payments_pb2.Payment | None:
        raw = self.view.get_raw(payment_key(payment_id))
        return None if raw is None else payments_pb2.Payment.FromString(raw)

    def order_payments(self, order_id: str) -> list[payments_pb2.Payment]:
        found = (
            self.payment(payment_id_of(order_id, key)) for key, _ in self.view.scan(order_payments_prefix(order_id))
        )
        # Only the order's own (ids from the API hold no "/", but the log is not checked).
        return [payment for payment in found if payment is not None and payment.order_id == order_id]

    def paid(self, order_id: str) -> float:
        return decode_paid(self.view.get_raw(paid_key(order_id))) / 100

    def order_events(self, order_id: str) -> list[HistoryEntry]:
        topic = self._orders_topic
        return [HistoryEntry(event, Position(topic, p, o)) for p, o, event in self.view.history(order_id)]

    def _orders_under(
        self, prefix: bytes, after: Cursor | None, limit: int, keep: Callable[[order_pb2.Order], bool]
    ) -> list[order_pb2.Order]:
        found: list[order_pb2.Order] = []
        for key, _ in self.view.scan(prefix, order_index.start_after(prefix, after)):
            order = self.view.order(order_index.order_id_of(prefix, key))
            if order is not None and keep(order):
                found.append(order)
                if len(found) >= limit:
                    break
        return found

    def orders_page(
        self, partition: int, state: int, product: str, after: Cursor | None, limit: int
    ) -> list[order_pb2.Order]:
        if product:
            prefix = order_index.product_prefix(partition, product)
        elif state:
            prefix = order_index.state_prefix(partition, state)
        else:
            prefix = order_index.time_prefix(partition)
        # A state's list keeps an order that moved on (skipped here).
        return self._orders_under(prefix, after, limit, lambda order: not state or order.state == state)

    def customer_orders_page(
        self, customer_id: int, state: int, product: str, after: Cursor | None, limit: int
    ) -> list[order_pb2.Order]:
        prefix = order_index.customer_prefix(customer_id)
        found: list[order_pb2.Order] = []
        for _key, value in self.view.scan(prefix, order_index.start_after(prefix, after)):
            order = order_pb2.Order.FromString(value)
            if (not state or order.state == state) and (not product or order.product == product):
                found.append(order)
                if len(found) >= limit:
                    break
        return found

    def dead_letters_page(
        self, processor: str, after: DeadLetterCursor | None, limit: int
    ) -> list[dead_letter_service_pb2.DeadLetterEntry]:
        prefix = dead_letters_prefix(processor)
        # Keys are fixed-width under a prefix: the next key after the cursor's is past it.
        start = None if after is None else dead_letter_key(prefix, after) + b"\x00"
        found = []
        for key, value in self.view.scan(prefix, start):
            at = dead_letter_at(prefix, key)
            letter = dead_letter_pb2.DeadLetter.FromString(value)
            found.append(
                dead_letter_service_pb2.DeadLetterEntry(partition=at.partition, offset=at.offset, dead_letter=letter)
            )
            if len(found) >= limit:
                break
        return found

    def customer_changes(
        self, customer_id: int, after_offset: int
    ) -> list[tuple[int, query_service_pb2.WatchOrdersResponse]]:
        prefix = order_index.customer_change_prefix(customer_id)
        start = order_index.customer_change_key(customer_id, after_offset + 1) if after_offset >= 0 else None
        return [
            (order_index.decode_offset(key), query_service_pb2.WatchOrdersResponse.FromString(value))
            for key, value in self.view.scan(prefix, start)
        ]

    def customer_latest(self, customer_id: int) -> int:
        raw = self.view.get_raw(order_index.customer_latest_key(customer_id))
        return -1 if raw is None else order_index.decode_offset(raw)

    async def rekeyed(self) -> None:
        if self._rekeyed_through is None:
            return
        topic = self._orders_topic
        tps = [(topic, p) for p in range(self._partitions[topic])]
        ends = await asyncio.to_thread(self._end_offsets, tps)
        check = self._rekeyed_through
        while True:
            try:
                if await asyncio.to_thread(check, ends):
                    return
            except StreamsError as exc:
                # The broker did not answer this time; the caller's deadline
                # bounds the retries (then: UNAVAILABLE, not UNKNOWN).
                log.warning("routing progress unknown, asking again: %s", exc)
                await asyncio.sleep(0.5)
            await asyncio.sleep(0.02)

    @contextmanager
    def watch_customer(self, customer_id: int, tp: TopicPartition) -> Iterator[Updates[int]]:
        with self.notifier.watch(order_index.customer_latest_key(customer_id), tp) as updates:
            yield DecodedUpdates(updates, order_index.decode_offset)

    @contextmanager
    def watch_order(self, order_id: str, tp: TopicPartition) -> Iterator[Updates[order_pb2.Order]]:
        with self.notifier.watch(order_key(order_id), tp) as updates:
            yield DecodedUpdates(updates, order_pb2.Order.FromString)

    @contextmanager
    def watch_stock(self, product: str, tp: TopicPartition) -> Iterator[Updates[inventory_pb2.InventoryLevel]]:
        with self.notifier.watch(stock_key(product), tp) as updates:
            yield DecodedUpdates(updates, inventory_pb2.InventoryLevel.FromString)
