"""What the query side knows, and how long to wait before it knows enough."""

from __future__ import annotations

from collections.abc import Callable

from gateway.errors import unavailable
from gateway.notifier import EndOffsets, Notifier, PartitionMoved, TopicPartition
from gateway.view import View
from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import command_service_pb2, order_pb2
from streams.partitioning import partition_for
from topology.topics import Topics


class ReadModel:
    def __init__(
        self,
        view: View,
        notifier: Notifier,
        topics: Topics,
        order_partitions: int,
        end_offsets: EndOffsets,
        is_ready: Callable[[], bool],
        current: Callable[[], frozenset[TopicPartition]] = frozenset,
    ) -> None:
        self.view = view
        self.notifier = notifier
        self.topics = topics
        self._order_partitions = order_partitions
        self._end_offsets = end_offsets
        self._is_ready = is_ready
        self._current = current

    def require_ready(self) -> None:
        if not self._is_ready():
            raise unavailable("the order view is still catching up with the log")

    def require_here(self, tp: TopicPartition) -> None:
        """Raises PartitionMoved if tp has left this instance: a write about
        to be made must be made by the partition's owner, the one process
        that serializes writes for its keys (the Router goes on there)."""
        if not self.notifier.here(tp):
            raise PartitionMoved(tp)

    def order_partition(self, order_id: str) -> TopicPartition:
        return (self.topics.orders, partition_for(order_id.encode(), self._order_partitions))

    def order(self, order_id: str) -> order_pb2.Order | None:
        return self.view.order(order_id)

    def stock(self, product: str) -> inventory_pb2.InventoryLevel | None:
        return self.view.stock(product)

    async def reached(self, position: command_service_pb2.LogPosition) -> None:
        await self.notifier.reached((self.topics.orders, position.partition), position.offset + 1)

    async def caught_up(self, tp: TopicPartition) -> None:
        """Returns once the view holds everything committed to tp so far."""
        await self.notifier.caught_up(tp, self._end_offsets)

    async def order_before_placing(self, order_id: str) -> order_pb2.Order | None:
        """The order, or None if it was never placed, for the partition's owner.

        Once the view has caught up with its partition since it was assigned,
        every placement goes through this instance, so the view is enough; the
        log's end is asked only until then.
        """
        order = self.view.order(order_id)
        if order is None and self.order_partition(order_id) not in self._current():
            return await self.order_when_known(order_id)
        return order

    async def order_when_known(self, order_id: str) -> order_pb2.Order | None:
        """The order, or None once the view has caught up and still lacks it."""
        order = self.view.order(order_id)
        if order is None:
            await self.caught_up(self.order_partition(order_id))
            order = self.view.order(order_id)
        return order
