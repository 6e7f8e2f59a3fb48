"""In-memory stand-ins for the gateway's ports, for unit tests of the
handlers and servicers (through gateway.bootstrap): no Kafka, no LevelDB.

`InMemoryEventLog` appends to lists and hands every record to its
subscribers; `InMemoryReadModel` subscribed to it projects what the gateway's
projectors would (orders, stock applied by the inventory check at once,
customers, payments) and wakes waiters and watchers, unless told to hold
records back (`auto_apply=False`, then `apply_pending()`).
`InMemoryWorkflowBacklog` is as far behind as the test says.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from gateway.adapters.projector import history_event
from gateway.app.errors import PartitionMoved
from gateway.app.handlers import App, build_app
from gateway.app.paging import newest_first
from gateway.app.ports import (
    Cursor,
    DeadLetterCursor,
    EventLog,
    EventLogError,
    HistoryEntry,
    Position,
    ReadModel,
    TopicPartition,
    Updates,
    WorkflowBacklog,
)
from oms.customers.v1 import customers_pb2
from oms.deadletter.v1 import dead_letter_pb2, dead_letter_service_pb2
from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import order_pb2, query_service_pb2
from oms.payments.v1 import payments_pb2
from orders import codec
from orders.domain import cents
from streams.partitioning import partition_for
from topology.topics import Topics

T = TypeVar("T")
PARTITIONS = 3
Subscriber = Callable[[str, bytes, bytes, Position], None]


class InMemoryEventLog(EventLog):
    def __init__(self, partitions: int = PARTITIONS, start_offset: int = 0) -> None:
        self.partitions = partitions
        self.records: list[tuple[str, bytes, bytes]] = []
        # Each partition's next offset (a log that begins at start_offset).
        self._ends: dict[TopicPartition, int] = defaultdict(lambda: start_offset)
        self.subscribers: list[Subscriber] = []
        # Set to make every write fail (a broker out of reach).
        self.failure: str | None = None
        # Runs as each write is made (before it is acknowledged).
        self.on_publish: Callable[[], None] = lambda: None

    async def publish(self, topic: str, key: bytes, value: bytes) -> Position:
        if self.failure is not None:
            raise EventLogError(self.failure)
        self.on_publish()
        partition = partition_for(key, self.partitions)
        position = Position(topic, partition, self._ends[(topic, partition)])
        self._ends[(topic, partition)] += 1
        self.records.append((topic, key, value))
        for subscriber in self.subscribers:
            subscriber(topic, key, value, position)
        return position

    def written(self, topic: str) -> list[bytes]:
        return [key for t, key, _ in self.records if t == topic]

    def end(self, tp: TopicPartition) -> int:
        """The next offset of tp (0 if nothing was ever written there)."""
        return self._ends[tp] if tp in self._ends else 0


class _Queue(Updates[T]):
    def __init__(self, tp: TopicPartition) -> None:
        self.tp = tp
        self.queue: asyncio.Queue[T | None] = asyncio.Queue()
        self.moved = False

    async def get(self) -> T:
        value = await self.queue.get()
        if self.moved or value is None:
            raise PartitionMoved(self.tp)
        return value


class InMemoryReadModel(ReadModel):
    def __init__(
        self, log: InMemoryEventLog | None = None, topics: Topics | None = None, partitions: int = PARTITIONS
    ) -> None:
        self.topics = topics or Topics()
        self.partitions = partitions
        self.log = log
        self.orders: dict[str, order_pb2.Order] = {}
        self.levels: dict[str, inventory_pb2.InventoryLevel] = {}
        self.customers: dict[int, customers_pb2.Customer] = {}
        self.payments: dict[str, payments_pb2.Payment] = {}
        self.history: dict[str, list[HistoryEntry]] = defaultdict(list)
        self.dead_letters: list[dead_letter_service_pb2.DeadLetterEntry] = []
        # Each customer's changes (the customer-keyed view), at offsets of one counter.
        self.changes: dict[int, list[tuple[int, query_service_pb2.WatchOrdersResponse]]] = defaultdict(list)
        self._change_offset = 0
        self.ready = True
        self.healthy = True
        # Partitions not held here (moved to another instance).
        self.gone: set[TopicPartition] = set()
        # Partitions the view has not caught up with since assignment.
        self.behind: set[TopicPartition] = set()
        self.auto_apply = True
        self.pending: list[tuple[str, bytes, bytes, Position]] = []
        self._applied: dict[TopicPartition, int] = defaultdict(lambda: -1)
        self._waiters: list[tuple[Position, asyncio.Future[None]]] = []
        self._watchers: dict[tuple[str, str], list[_Queue[Any]]] = defaultdict(list)
        self.caught_up_calls: list[TopicPartition] = []
        # Runs while caught_up asks the log's end.
        self.on_caught_up: Callable[[TopicPartition], None] = lambda _tp: None
        if log is not None:
            log.subscribers.append(self._received)

    # -- driving the fake
    def _received(self, topic: str, key: bytes, value: bytes, position: Position) -> None:
        if self.auto_apply:
            self.apply(topic, key, value, position)
        else:
            self.pending.append((topic, key, value, position))

    def apply_pending(self) -> None:
        pending, self.pending = self.pending, []
        for record in pending:
            self.apply(*record)

    def apply(self, topic: str, key: bytes, value: bytes, position: Position) -> None:
        """What the projectors (and, for stock, the inventory check) make of a record."""
        if topic == self.topics.orders:
            order = codec.decode_event(value).order
            before = self.orders.get(order.order_id)
            if before is None or before.version < order.version:
                self.orders[order.order_id] = order
                event = codec.decode_event(value)
                self.history[order.order_id].append(HistoryEntry(history_event(event), position))
                self._notify(("order", order.order_id), order)
                change = query_service_pb2.WatchOrdersResponse(order=order, kind=history_event(event).kind)
                self.changes[order.customer_id].append((self._change_offset, change))
                self._notify(("customer", str(order.customer_id)), self._change_offset)
                self._change_offset += 1
        elif topic == self.topics.warehouse_inventory:
            stock = inventory_pb2.StockLevel.FromString(value)
            before = self.levels.get(stock.product, inventory_pb2.InventoryLevel(product=stock.product))
            level = inventory_pb2.InventoryLevel(
                product=stock.product,
                stocked=True,
                quantity=stock.quantity,
                reserved=before.reserved,
                update_id=stock.update_id,
            )
            self.levels[stock.product] = level
            self._notify(("stock", stock.product), level)
        elif topic == self.topics.customers:
            customer = customers_pb2.Customer.FromString(value)
            self.customers[customer.customer_id] = customer
        elif topic == self.topics.payments:
            self.payments[key.decode()] = payments_pb2.Payment.FromString(value)
        elif topic == self.topics.dead_letters:
            letter = dead_letter_pb2.DeadLetter.FromString(value)
            entry = dead_letter_service_pb2.DeadLetterEntry(
                partition=position.partition, offset=position.offset, dead_letter=letter
            )
            self.dead_letters.append(entry)
        self._applied[position.tp] = max(self._applied[position.tp], position.offset)
        for waited, future in self._waiters:
            if waited.tp == position.tp and waited.offset <= position.offset and not future.done():
                future.set_result(None)

    def move_away(self, tp: TopicPartition) -> None:
        """A rebalance gives tp to another instance."""
        self.gone.add(tp)
        for waited, future in self._waiters:
            if waited.tp == tp and not future.done():
                future.set_exception(PartitionMoved(tp))
        for watchers in self._watchers.values():
            for watch in watchers:
                if watch.tp == tp:
                    watch.moved = True
                    watch.queue.put_nowait(None)

    def _notify(self, key: tuple[str, str], value: object) -> None:
        for watch in self._watchers.get(key, ()):
            watch.queue.put_nowait(value)

    # -- the port
    def partition_of(self, topic: str, key: bytes) -> TopicPartition:
        return (topic, partition_for(key, self.partitions))

    def partition_count(self, topic: str) -> int:
        return self.partitions

    def holds(self, tp: TopicPartition) -> bool:
        return tp not in self.gone

    def current(self, tp: TopicPartition) -> bool:
        return tp not in self.behind

    def orders_ready(self) -> bool:
        return self.ready

    def tables_healthy(self) -> bool:
        return self.healthy

    async def reached(self, position: Position) -> None:
        if self._applied[position.tp] >= position.offset:
            return
        if not self.holds(position.tp):
            raise PartitionMoved(position.tp)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((position, future))
        try:
            await future
        finally:
            self._waiters = [(p, f) for p, f in self._waiters if f is not future]

    async def caught_up(self, tp: TopicPartition) -> None:
        self.caught_up_calls.append(tp)
        await asyncio.sleep(0)
        self.on_caught_up(tp)
        end = 0 if self.log is None else self.log.end(tp)
        if end:
            await self.reached(Position(tp[0], tp[1], end - 1))

    def order(self, order_id: str) -> order_pb2.Order | None:
        return self.orders.get(order_id)

    def stock(self, product: str) -> inventory_pb2.InventoryLevel | None:
        return self.levels.get(product)

    def customer(self, customer_id: int) -> customers_pb2.Customer | None:
        return self.customers.get(customer_id)

    def payment(self, payment_id: str) -> payments_pb2.Payment | None:
        return self.payments.get(payment_id)

    def order_payments(self, order_id: str) -> list[payments_pb2.Payment]:
        return [p for p in self.payments.values() if p.order_id == order_id]

    def paid(self, order_id: str) -> float:
        return sum(cents(p.amount) for p in self.payments.values() if p.order_id == order_id) / 100

    def order_events(self, order_id: str) -> list[HistoryEntry]:
        return list(self.history.get(order_id, ()))

    def dead_letters_page(
        self, processor: str, after: DeadLetterCursor | None, limit: int
    ) -> list[dead_letter_service_pb2.DeadLetterEntry]:
        def newest(entry: dead_letter_service_pb2.DeadLetterEntry) -> tuple[int, int, int]:
            return (-entry.dead_letter.failed_at.ToMilliseconds(), entry.partition, entry.offset)

        chosen = sorted(
            (e for e in self.dead_letters if not processor or e.dead_letter.processor == processor), key=newest
        )
        if after is not None:
            chosen = [e for e in chosen if newest(e) > (-after.failed_ms, after.partition, after.offset)]
        return chosen[:limit]

    def _page(
        self, orders: list[order_pb2.Order], state: int, product: str, after: Cursor | None, limit: int
    ) -> list[order_pb2.Order]:
        chosen = sorted(
            (o for o in orders if (not state or o.state == state) and (not product or o.product == product)),
            key=newest_first,
        )
        if after is not None:
            chosen = [o for o in chosen if newest_first(o) > (-after[0], after[1].encode())]
        return chosen[:limit]

    def orders_page(
        self, partition: int, state: int, product: str, after: Cursor | None, limit: int
    ) -> list[order_pb2.Order]:
        here = [o for o in self.orders.values() if partition_for(o.order_id.encode(), self.partitions) == partition]
        return self._page(here, state, product, after, limit)

    def customer_orders_page(
        self, customer_id: int, state: int, product: str, after: Cursor | None, limit: int
    ) -> list[order_pb2.Order]:
        theirs = [o for o in self.orders.values() if o.customer_id == customer_id]
        return self._page(theirs, state, product, after, limit)

    def customer_changes(
        self, customer_id: int, after_offset: int
    ) -> list[tuple[int, query_service_pb2.WatchOrdersResponse]]:
        return [(offset, change) for offset, change in self.changes.get(customer_id, ()) if offset > after_offset]

    def customer_latest(self, customer_id: int) -> int:
        changes = self.changes.get(customer_id)
        return changes[-1][0] if changes else -1

    async def rekeyed(self) -> None:
        await asyncio.sleep(0)

    def watch_customer(self, customer_id: int, tp: TopicPartition) -> Any:
        return self._watch(("customer", str(customer_id)), tp)

    @contextmanager
    def _watch(self, key: tuple[str, str], tp: TopicPartition) -> Iterator[_Queue[Any]]:
        watch: _Queue[Any] = _Queue(tp)
        if not self.holds(tp):
            watch.moved = True
            watch.queue.put_nowait(None)
        self._watchers[key].append(watch)
        try:
            yield watch
        finally:
            self._watchers[key].remove(watch)

    def watch_order(self, order_id: str, tp: TopicPartition) -> Any:
        return self._watch(("order", order_id), tp)

    def watch_stock(self, product: str, tp: TopicPartition) -> Any:
        return self._watch(("stock", product), tp)


class InMemoryWorkflowBacklog(WorkflowBacklog):
    """The order workflow's backlog as the test sets it (None: not known)."""

    def __init__(self, records: int | None = 0) -> None:
        self.records = records

    def records_behind(self) -> int | None:
        return self.records


def in_memory() -> tuple[InMemoryEventLog, InMemoryReadModel]:
    log = InMemoryEventLog()
    return log, InMemoryReadModel(log)


AppScenario = Callable[[App, InMemoryEventLog, InMemoryReadModel], Awaitable[None]]


def run_app(scenario: AppScenario, topics: Topics | None = None) -> None:
    """Runs a scenario over the handlers (gateway.app.handlers.build_app) on
    fresh in-memory ports, on a fresh event loop, within 5 s."""

    async def main() -> None:
        log = InMemoryEventLog()
        reads = InMemoryReadModel(log)
        await asyncio.wait_for(scenario(build_app(reads, log, topics or Topics()), log, reads), 5)

    asyncio.run(main())
