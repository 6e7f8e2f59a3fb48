"""Builds the view from `orders` and `inventory-levels`.

`project_batch` is the pure part; a `Projector` runs it on a thread against
Kafka and tells the asyncio side what changed and how far it has read. The
customers and payments tables (`gateway/adapters/tables.py`) use the same loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from google.protobuf.message import DecodeError

from gateway.adapters import order_index
from gateway.adapters.view import View, history_key, history_value, order_key, stock_key
from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import events_pb2, order_pb2, query_service_pb2
from orders import codec
from streams.kafka import ViewConsumer
from streams.records import Record
from topology.topics import Topics

log = logging.getLogger(__name__)

Changes = dict[bytes, bytes]
# (changed view entries, positions: (topic, partition) -> next offset)
Progress = Callable[[Changes, dict[tuple[str, int], int]], None]
# (the projector's input topics, their partitions assigned here now)
Assigned = Callable[[frozenset[str], frozenset[tuple[str, int]]], None]


def project_batch(
    records: Iterable[Record],
    topics: Topics,
    current: Callable[[bytes], bytes | None],
    applied: Callable[[order_pb2.Order], None] | None = None,
) -> Changes:
    """The view entries a batch changes. Events older than the view are skipped,
    so redelivery and replays are harmless. `applied` sees each order taken."""
    changes: Changes = {}
    for record in records:
        if record.topic == topics.orders:
            try:
                event = codec.decode_event(record.value)
            except codec.UndecodableEvent:
                log.warning(
                    "skipping undecodable order event at %s[%d]@%d", record.topic, record.partition, record.offset
                )
                continue
            key = order_key(event.order_id)
            before = changes.get(key) or current(key)
            if before is not None and order_pb2.Order.FromString(before).version >= event.version:
                continue
            changes[key] = event.order.SerializeToString()
            # The order's history grows in the same batch as its view.
            changes[history_key(event.order_id, event.version)] = history_value(
                record.partition, record.offset, history_event(event)
            )
            # And its lists (ListOrders without a customer), in the same batch.
            changes.update(order_index.index_entries(record.partition, event.order))
            if applied is not None:
                applied(event.order)
        elif record.topic == topics.customer_orders:
            _project_customer_change(record, changes, current)
        elif record.topic == topics.inventory_levels:
            try:
                level = inventory_pb2.InventoryLevel.FromString(record.value or b"")
            except DecodeError:
                log.warning(
                    "skipping undecodable inventory level at %s[%d]@%d", record.topic, record.partition, record.offset
                )
                continue
            changes[stock_key(level.product)] = record.value or b""
    return changes


def _project_customer_change(record: Record, changes: Changes, current: Callable[[bytes], bytes | None]) -> None:
    """An order event re-keyed by customer: the customer's list entry (the
    latest version wins), and a change for WatchOrders at its offset."""
    try:
        event = codec.decode_event(record.value)
    except codec.UndecodableEvent:
        log.warning("skipping undecodable order event at %s[%d]@%d", record.topic, record.partition, record.offset)
        return
    customer_id = event.order.customer_id
    key = order_index.entry(order_index.customer_prefix(customer_id), event.order)
    before = changes.get(key) or current(key)
    if before is not None and order_pb2.Order.FromString(before).version >= event.version:
        return
    changes[key] = event.order.SerializeToString()
    change = query_service_pb2.WatchOrdersResponse(
        order=event.order,
        kind=_KINDS.get(event.WhichOneof("kind") or "", query_service_pb2.ORDER_EVENT_KIND_UNSPECIFIED),
    )
    changes[order_index.customer_change_key(customer_id, record.offset)] = change.SerializeToString()
    changes[order_index.customer_latest_key(customer_id)] = order_index.encode_offset(record.offset)


_KINDS = {
    "placed": query_service_pb2.ORDER_EVENT_KIND_PLACED,
    "validated": query_service_pb2.ORDER_EVENT_KIND_VALIDATED,
    "failed": query_service_pb2.ORDER_EVENT_KIND_FAILED,
    "cancelled": query_service_pb2.ORDER_EVENT_KIND_CANCELLED,
    "shipped": query_service_pb2.ORDER_EVENT_KIND_SHIPPED,
}


def history_event(event: events_pb2.OrderEvent) -> query_service_pb2.OrderHistoryEvent:
    """An order event as its history lists it."""
    kind = event.WhichOneof("kind") or ""
    entry = query_service_pb2.OrderHistoryEvent(
        version=event.version,
        occurred_at=event.occurred_at,
        kind=_KINDS.get(kind, query_service_pb2.ORDER_EVENT_KIND_UNSPECIFIED),
        state=event.order.state,
    )
    if kind == "validated":
        entry.checks.extend(event.validated.checks)
    elif kind == "failed":
        entry.checks.extend(event.failed.checks)
    elif kind == "cancelled":
        entry.reason = event.cancelled.reason
    return entry


class Projector:
    """A projection loop on its own thread (confluent_kafka is blocking): the
    records of its inputs become view entries, written with the read
    positions they reach, and every batch is reported to `on_progress`.

    `project` is the pure part: a batch's records, and whether the view has
    caught up (what the log held at assignment), to the entries they change.
    """

    def __init__(
        self,
        name: str,
        consumer_factory: Callable[..., ViewConsumer],
        view: View,
        inputs: tuple[str, ...],
        project: Callable[[list[Record], bool], Changes],
        on_progress: Progress,
        on_assigned: Assigned = lambda _topics, _partitions: None,
    ) -> None:
        self._name = name
        self._view = view
        self._inputs = frozenset(inputs)
        self._project = project
        self._on_progress = on_progress
        # Told, on every rebalance, which partitions of its inputs are here now.
        self._on_assigned = on_assigned
        # The positions last reported to on_progress.
        self._reported: dict[tuple[str, int], int] = {}
        self._stop = threading.Event()
        self.caught_up = threading.Event()
        # Set if the loop dies: the gateway then stops rather than serve a frozen view.
        self.failed = threading.Event()
        self._targets: dict[tuple[str, int], int] | None = None
        # Partitions whose view has reached where the log stood at assignment.
        self.current: frozenset[tuple[str, int]] = frozenset()
        self._consumer = consumer_factory(inputs=inputs, stored_offset=view.position, on_assigned=self._assigned)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _assigned(self, partitions: list[tuple[str, int]]) -> None:
        # Called inside poll, on the projector's own thread.
        self._on_assigned(self._inputs, frozenset(partitions))
        # Report every position again: a partition back from elsewhere may
        # not move, and its waiters need to hear where it stands.
        self._reported = {}
        # Ready once the view has reached where the log stood when we got it.
        self.current = frozenset()
        self._targets = self._consumer.end_offsets(partitions)
        log.info("%s assigned %d partitions, catching up to %s", self._name, len(partitions), self._targets)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._consumer.close()

    def end_offsets(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        return self._consumer.end_offsets(partitions)

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            log.exception("the %s failed", self._name)
            self.failed.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            records = self._consumer.poll(2000, 0.01)
            positions = self._consumer.positions()
            changes = self._project(records, self.caught_up.is_set()) if records else {}
            advanced = {tp: o for tp, o in positions.items() if self._reported.get(tp) != o}
            if changes or advanced:
                self._view.apply(changes, positions)
                self._reported.update(positions)
                self._on_progress(changes, positions)
            if self._targets is not None and len(self.current) < len(self._targets):
                self.current = frozenset(
                    tp for tp, end in self._targets.items() if end == 0 or positions.get(tp, -1) >= end
                )
                if len(self.current) == len(self._targets) and not self.caught_up.is_set():
                    log.info("%s caught up", self._name)
                    self.caught_up.set()


def order_projector(
    consumer_factory: Callable[..., ViewConsumer],
    view: View,
    topics: Topics,
    on_progress: Progress,
    on_order: Callable[[order_pb2.Order], None] | None = None,
    on_assigned: Assigned = lambda _topics, _partitions: None,
) -> Projector:
    """The order view's projector. `on_order` sees each order change the view
    takes once caught up (not the replay before)."""

    def project(records: list[Record], caught_up: bool) -> Changes:
        return project_batch(records, topics, view.get_raw, on_order if caught_up else None)

    # customer-orders is partitioned as `customers`, with as many partitions as
    # `orders`: the range assignor gives partition N of all three to one instance.
    inputs = (topics.orders, topics.inventory_levels, topics.customer_orders)
    return Projector("projector", consumer_factory, view, inputs, project, on_progress, on_assigned)
