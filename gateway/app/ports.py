"""The ports the handlers work through. Adapters (gateway/adapters/) and
test fakes subclass them; only gateway/bootstrap.py picks which."""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from typing import Generic, NamedTuple, TypeVar

from oms.customers.v1 import customers_pb2
from oms.deadletter.v1 import dead_letter_service_pb2
from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import order_pb2, query_service_pb2
from oms.payments.v1 import payments_pb2

T = TypeVar("T", covariant=True)
TopicPartition = tuple[str, int]


class Position(NamedTuple):
    """Where a record is in the log."""

    topic: str
    partition: int
    offset: int

    @property
    def tp(self) -> TopicPartition:
        return (self.topic, self.partition)


# (placed_at in ms, order id): where a page of a newest-first list ended.
Cursor = tuple[int, str]


class DeadLetterCursor(NamedTuple):
    """Where a page of dead letters ended: the last one's time and its place
    on `dead-letters`."""

    failed_ms: int
    partition: int
    offset: int


class HistoryEntry(NamedTuple):
    """One event of an order's history, and where it is in the log."""

    event: query_service_pb2.OrderHistoryEvent
    position: Position


class EventLogError(Exception):
    """A write to the log failed (the adapter wraps its driver's error)."""


class EventLog(abc.ABC):
    @abc.abstractmethod
    async def publish(self, topic: str, key: bytes, value: bytes) -> Position:
        """Appends a record; returns once the log has acknowledged it.
        Raises EventLogError if it cannot."""


class Updates(abc.ABC, Generic[T]):
    """Each new value of one read model entry, in order (a value may come
    twice); `get` raises PartitionMoved once the entry's partition has gone
    to another instance."""

    @abc.abstractmethod
    async def get(self) -> T: ...


class ReadModel(abc.ABC):
    """What the gateway knows of the log: the order view (orders, stock),
    split by partition between instances, and the customers and payments
    tables, which every instance holds whole."""

    # -- where keys live, and what is here
    @abc.abstractmethod
    def partition_of(self, topic: str, key: bytes) -> TopicPartition: ...

    @abc.abstractmethod
    def partition_count(self, topic: str) -> int: ...

    @abc.abstractmethod
    def holds(self, tp: TopicPartition) -> bool:
        """Whether tp's view is kept here (the one place writes for its keys
        may be made)."""

    @abc.abstractmethod
    def current(self, tp: TopicPartition) -> bool:
        """Whether the view of tp has caught up with the log since tp was
        assigned here (from then on every write for its keys goes through
        this instance)."""

    @abc.abstractmethod
    def orders_ready(self) -> bool:
        """Whether the order view has caught up with the log once."""

    @abc.abstractmethod
    def tables_healthy(self) -> bool:
        """Whether the customers and payments tables are being updated."""

    # -- waiting
    @abc.abstractmethod
    async def reached(self, position: Position) -> None:
        """Returns once the read model holds the record at position; raises
        PartitionMoved if its partition leaves this instance meanwhile."""

    @abc.abstractmethod
    async def caught_up(self, tp: TopicPartition) -> None:
        """Returns once the read model holds everything committed to tp so far."""

    # -- lookups
    @abc.abstractmethod
    def order(self, order_id: str) -> order_pb2.Order | None: ...

    @abc.abstractmethod
    def stock(self, product: str) -> inventory_pb2.InventoryLevel | None: ...

    @abc.abstractmethod
    def customer(self, customer_id: int) -> customers_pb2.Customer | None: ...

    @abc.abstractmethod
    def payment(self, payment_id: str) -> payments_pb2.Payment | None: ...

    @abc.abstractmethod
    def order_payments(self, order_id: str) -> list[payments_pb2.Payment]:
        """The payments recorded for an order (the payments table), in no set order."""

    @abc.abstractmethod
    def paid(self, order_id: str) -> float:
        """The total of the payments recorded for an order (the payments table)."""

    @abc.abstractmethod
    def order_events(self, order_id: str) -> list[HistoryEntry]:
        """The order's history as the view has it, oldest first."""

    # -- lists of orders, newest first (placed_at, then order id), after a cursor
    @abc.abstractmethod
    def orders_page(
        self, partition: int, state: int, product: str, after: Cursor | None, limit: int
    ) -> list[order_pb2.Order]:
        """Up to `limit` orders of one partition of `orders` (held here), in
        `state` and of `product` where those are set (0, "": any)."""

    @abc.abstractmethod
    def customer_orders_page(
        self, customer_id: int, state: int, product: str, after: Cursor | None, limit: int
    ) -> list[order_pb2.Order]:
        """Up to `limit` orders of a customer (whose partition of
        `customer-orders` is held here)."""

    @abc.abstractmethod
    def customer_changes(
        self, customer_id: int, after_offset: int
    ) -> list[tuple[int, query_service_pb2.WatchOrdersResponse]]:
        """Each change to a customer's orders after an offset of its
        `customer-orders` partition, with its offset, oldest first."""

    @abc.abstractmethod
    def customer_latest(self, customer_id: int) -> int:
        """The offset of the latest change to a customer's orders here (-1: none)."""

    @abc.abstractmethod
    def dead_letters_page(
        self, processor: str, after: DeadLetterCursor | None, limit: int
    ) -> list[dead_letter_service_pb2.DeadLetterEntry]:
        """Up to `limit` dead letters, newest first, of one processor (or,
        "", of every one), after a cursor (the tables hold every partition)."""

    @abc.abstractmethod
    async def rekeyed(self) -> None:
        """Returns once every order event committed to `orders` before the
        call has been re-keyed to `customer-orders` (then `caught_up` with a
        customer's partition reads it)."""

    # -- watches: registered before the first read, no change slips in between
    @abc.abstractmethod
    def watch_order(self, order_id: str, tp: TopicPartition) -> AbstractContextManager[Updates[order_pb2.Order]]: ...

    @abc.abstractmethod
    def watch_customer(self, customer_id: int, tp: TopicPartition) -> AbstractContextManager[Updates[int]]:
        """The offset of each new change to the customer's orders."""

    @abc.abstractmethod
    def watch_stock(
        self, product: str, tp: TopicPartition
    ) -> AbstractContextManager[Updates[inventory_pb2.InventoryLevel]]: ...


class WorkflowBacklog(abc.ABC):
    """How far the order workflow (the checks and the aggregator, which decide
    each placed order) is behind on `orders`: while it is far behind, a new
    order would only wait in line, so none is taken on."""

    @abc.abstractmethod
    def records_behind(self) -> int | None:
        """The records of `orders` the workflow has yet to read, as last
        measured (off the request path: this never waits); None while not
        known."""
