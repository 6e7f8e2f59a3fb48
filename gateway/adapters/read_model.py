"""The read model on LevelDB: the gateway's view database, the projectors
that fill it, and the Notifier that wakes requests as it moves."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

from gateway.adapters.notifier import EndOffsets, Notifier, Watch
from gateway.adapters.tables import customer_key, decode_paid, paid_key, payment_key
from gateway.adapters.view import View, order_key, stock_key
from gateway.app.ports import HistoryEntry, Position, ReadModel, TopicPartition, Updates
from oms.customers.v1 import customers_pb2
from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import order_pb2
from oms.payments.v1 import payments_pb2
from streams.partitioning import partition_for

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
    ) -> None:
        self._orders_topic = orders_topic
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

    def paid(self, order_id: str) -> float:
        return decode_paid(self.view.get_raw(paid_key(order_id))) / 100

    def order_events(self, order_id: str) -> list[HistoryEntry]:
        topic = self._orders_topic
        return [HistoryEntry(event, Position(topic, p, o)) for p, o, event in self.view.history(order_id)]

    @contextmanager
    def watch_order(self, order_id: str, tp: TopicPartition) -> Iterator[Updates[order_pb2.Order]]:
        with self.notifier.watch(order_key(order_id), tp) as updates:
            yield DecodedUpdates(updates, order_pb2.Order.FromString)

    @contextmanager
    def watch_stock(self, product: str, tp: TopicPartition) -> Iterator[Updates[inventory_pb2.InventoryLevel]]:
        with self.notifier.watch(stock_key(product), tp) as updates:
            yield DecodedUpdates(updates, inventory_pb2.InventoryLevel.FromString)
