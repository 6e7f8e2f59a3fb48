"""The aggregator as a stream processor over `orders`, `order-validations`
and `order-commands`: the one writer of every event of an order after its
placement (its lifecycle processor).

The three topics are keyed by order id and co-partitioned, so an order's
placement, validations and commands share a partition, and one task decides
each order: a verdict and a cancel can never both be written as the same
version. Per order it keeps a PendingVerdict:

- until the verdict: the placed snapshot, the outcomes heard, a deadline;
- after a VALIDATED verdict: the order's latest snapshot, for as long as a
  cancel or a shipment may still come;
- once the order is closed (FAILED, SHIPPED, CANCELLED): a `decided` marker
  for DECIDED_RETENTION_MS, so that late or repeated validations and
  commands never write a second event; then nothing.

So the state holds the open orders (placed, or validated but neither
shipped nor cancelled), a snapshot each, plus the orders closed in the last
retention period.
"""

from __future__ import annotations

from collections.abc import Iterator

from aggregator.verdict import Verdict, decide, time_out
from oms.orders.v1 import events_pb2
from oms.validation.v1 import state_pb2
from orders import codec
from orders.codec import ORDER_EVENTS, VALIDATIONS
from orders.domain import CLOSED_STATES, Order, OrderNotCancellable, OrderNotShippable, OrderState
from streams.codecs import STR, protobuf
from streams.processor import Processor, decode
from streams.records import Output, PoisonRecord, Record
from streams.state import PartitionState
from streams.stores import Store, Timers
from topology.topics import Topics

# How long a closed order is remembered to swallow late validations and commands.
DECIDED_RETENTION_MS = 10 * 60 * 1000

COMMANDS = protobuf(events_pb2.OrderCommand)


class AggregatorProcessor(Processor):
    name = "validation-aggregator"
    stateful = True

    # Per order id: its verdict in the making, its latest snapshot while it
    # is open, or that it was closed.
    pending = Store("pending", STR, protobuf(state_pb2.PendingVerdict))
    # Order ids by the PendingVerdict's deadline.
    deadlines = Timers("due", STR)

    def __init__(self, topics: Topics, timeout_ms: int) -> None:
        self.topics = topics
        self.timeout_ms = timeout_ms
        self.inputs = (topics.orders, topics.order_validations, topics.order_commands)
        self.outputs = (topics.orders,)

    def process(self, record: Record, state: PartitionState) -> Iterator[Output]:
        if record.topic == self.topics.orders:
            yield from self._on_order_event(record, state)
        elif record.topic == self.topics.order_commands:
            yield from self._on_command(record, state)
        else:
            yield from self._on_validation(record, state)

    def _save(self, state: PartitionState, order_id: str, pending: state_pb2.PendingVerdict, due_ms: int) -> None:
        """Stores the pending verdict, and moves its due-time index entry if
        the due time changed (each write is a changelog record)."""
        was_due_ms = pending.deadline.ToMilliseconds() if pending.HasField("deadline") else None
        self.deadlines.move(state, was_due_ms, due_ms, order_id)
        pending.deadline.FromMilliseconds(due_ms)
        self.pending.put(state, order_id, pending)

    def _on_order_event(self, record: Record, state: PartitionState) -> Iterator[Output]:
        event = decode(record, ORDER_EVENTS)
        pending = self.pending.get(state, event.order_id) or state_pb2.PendingVerdict()
        if pending.decided:
            return
        if event.WhichOneof("kind") != "placed":
            # An event of this processor's, already in the snapshot; or one
            # written by an earlier run whose state was lost: take it.
            if pending.HasField("order") and pending.order.version >= event.version:
                return
            self._settle(state, event.order_id, pending, event.order, record.timestamp_ms)
            return
        if pending.HasField("order"):
            return  # a repeated placement
        pending.order.CopyFrom(event.order)
        due_ms = event.order.placed_at.ToMilliseconds() + self.timeout_ms
        commands = list(pending.commands)
        del pending.commands[:]
        if commands:
            # Commands that overtook their order: a cancel settles it before any verdict.
            self._save(state, event.order_id, pending, due_ms)
            for command in commands:
                yield from self._apply(state, command, record.timestamp_ms)
            pending = self.pending.get(state, event.order_id) or pending
            if pending.decided or pending.order.state != event.order.state:
                return
        verdict = decide(map(codec.outcome_from_pb, pending.outcomes))
        yield from self._decide(state, event.order_id, pending, due_ms, verdict)

    def _on_validation(self, record: Record, state: PartitionState) -> Iterator[Output]:
        validation = decode(record, VALIDATIONS)
        pending = self.pending.get(state, validation.order_id) or state_pb2.PendingVerdict()
        if pending.decided or (pending.HasField("order") and pending.order.state != _CREATED):
            return  # decided, or cancelled while its checks ran: late validations are swallowed
        pending.outcomes.append(validation.outcome)
        if pending.HasField("order"):
            due_ms = pending.deadline.ToMilliseconds()
            verdict = decide(map(codec.outcome_from_pb, pending.outcomes))
        else:
            # Validations can overtake their order; wait for it, but not forever.
            due_ms = record.timestamp_ms + self.timeout_ms
            verdict = None
        yield from self._decide(state, validation.order_id, pending, due_ms, verdict)

    def _on_command(self, record: Record, state: PartitionState) -> Iterator[Output]:
        command = decode(record, COMMANDS)
        if not command.order_id or command.WhichOneof("kind") is None:
            raise PoisonRecord("order command without an order id or a kind")
        yield from self._apply(state, command, record.timestamp_ms)

    def _apply(self, state: PartitionState, command: events_pb2.OrderCommand, now_ms: int) -> Iterator[Output]:
        """Applies a command through the domain's guards: the event it makes,
        or nothing when the guard refuses (the gateway then sees the state
        that refused it)."""
        pending = self.pending.get(state, command.order_id) or state_pb2.PendingVerdict()
        if pending.decided and (pending.closed or not _adoptable(command)):
            return
        if (pending.decided or not pending.HasField("order")) and _adoptable(command):
            # Validated before this processor kept snapshots: the gateway's
            # snapshot (caught up with the partition) stands in for its own.
            pending = state_pb2.PendingVerdict(order=command.order)
        if not pending.HasField("order"):
            # The command overtook its order (the topics are read independently).
            pending.commands.append(command)
            due_ms = pending.deadline.ToMilliseconds() if pending.HasField("deadline") else now_ms + self.timeout_ms
            self._save(state, command.order_id, pending, due_ms)
            return
        order = codec.rehydrate(pending.order)
        try:
            if command.WhichOneof("kind") == "cancel":
                order.cancel(reason=command.cancel.reason)
            else:
                order.ship(paid=command.ship.paid)
        except (OrderNotCancellable, OrderNotShippable):
            return
        yield from self._write(state, command.order_id, pending, order, now_ms)

    def _write(
        self, state: PartitionState, order_id: str, pending: state_pb2.PendingVerdict, order: Order, now_ms: int
    ) -> Iterator[Output]:
        """Writes the order's new event and keeps its snapshot (or a closed marker)."""
        snapshot = None
        for event in codec.events_to_pb(order, order.collect_events()):
            snapshot = event.order
            yield Output(self.topics.orders, order_id.encode(), event.SerializeToString())
        assert snapshot is not None
        self._settle(state, order_id, pending, snapshot, now_ms)

    def _settle(
        self,
        state: PartitionState,
        order_id: str,
        pending: state_pb2.PendingVerdict,
        snapshot: codec.order_pb2.Order,
        now_ms: int,
    ) -> None:
        """Remembers the order after a change: closed (a marker until the
        retention ends) or still open (its snapshot, outcomes dropped)."""
        kept = state_pb2.PendingVerdict()
        if pending.HasField("deadline"):
            kept.deadline.CopyFrom(pending.deadline)
        if codec.state_from_pb(snapshot.state) in CLOSED_STATES:
            kept.decided = kept.closed = True
            self._save(state, order_id, kept, now_ms + DECIDED_RETENTION_MS)
            return
        # Open (validated): kept, without a deadline, until a command closes it.
        if kept.HasField("deadline"):
            self.deadlines.cancel(state, kept.deadline.ToMilliseconds(), order_id)
            kept.ClearField("deadline")
        kept.order.CopyFrom(snapshot)
        self.pending.put(state, order_id, kept)

    def _decide(
        self,
        state: PartitionState,
        order_id: str,
        pending: state_pb2.PendingVerdict,
        due_ms: int,
        verdict: Verdict | None,
    ) -> Iterator[Output]:
        """Writes the verdict if there is one; otherwise keeps waiting until due_ms."""
        if verdict is None or not pending.HasField("order"):
            self._save(state, order_id, pending, due_ms)
            return
        if pending.order.version != 1:
            # A verdict is an order's second event: its placement must be its first.
            raise ValueError(f"order {order_id} is not freshly placed")
        order = codec.rehydrate(pending.order)
        if verdict.state is OrderState.VALIDATED:
            order.validate(checks=verdict.checks)
        else:
            order.fail(checks=verdict.checks)
        yield from self._write(state, order_id, pending, order, due_ms)

    def punctuate(self, now_ms: int, state: PartitionState) -> Iterator[Output]:
        for due_ms, order_id in self.deadlines.due(state, now_ms):
            pending = self.pending.get(state, order_id)
            if pending is None or pending.deadline.ToMilliseconds() != due_ms:
                continue
            if pending.decided or not pending.HasField("order"):
                # Retention over, or validations (or commands) whose order never came.
                self.pending.delete(state, order_id)
                continue
            if pending.order.state != _CREATED:
                continue  # open, past its verdict: no deadline any more
            verdict = time_out(map(codec.outcome_from_pb, pending.outcomes), self.timeout_ms)
            yield from self._decide(state, order_id, pending, now_ms, verdict)


_CREATED = codec.order_pb2.ORDER_STATE_CREATED


def _adoptable(command: events_pb2.OrderCommand) -> bool:
    """Whether a command carries the snapshot of a validated order."""
    return command.HasField("order") and command.order.state == codec.order_pb2.ORDER_STATE_VALIDATED
