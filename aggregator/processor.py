"""The aggregator as a stream processor over `orders` and `order-validations`.

Both topics are keyed by order id, so an order's placement and validations
share a partition. Per order it keeps a PendingVerdict until the verdict is
written, then a `decided` marker for a retention period, so that late or
repeated validations never produce a second terminal event.
"""

from __future__ import annotations

from collections.abc import Iterator

from aggregator.verdict import Verdict, decide, time_out
from oms.validation.v1 import state_pb2
from orders import codec
from orders.codec import ORDER_EVENTS, VALIDATIONS
from orders.domain import OrderState
from streams.codecs import STR, protobuf
from streams.processor import Processor, decode
from streams.records import Output, Record
from streams.state import PartitionState
from streams.stores import Store, Timers
from topology.topics import Topics

# How long a decided order is remembered to swallow late validations.
DECIDED_RETENTION_MS = 10 * 60 * 1000


class AggregatorProcessor(Processor):
    name = "validation-aggregator"
    stateful = True

    # Per order id: its verdict in the making, or that it was decided.
    pending = Store("pending", STR, protobuf(state_pb2.PendingVerdict))
    # Order ids by the PendingVerdict's deadline.
    deadlines = Timers("due", STR)

    def __init__(self, topics: Topics, timeout_ms: int) -> None:
        self.topics = topics
        self.timeout_ms = timeout_ms
        self.inputs = (topics.orders, topics.order_validations)
        self.outputs = (topics.orders,)

    def process(self, record: Record, state: PartitionState) -> Iterator[Output]:
        if record.topic == self.topics.orders:
            yield from self._on_order_event(record, state)
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
            # A verdict written elsewhere (an earlier run): remember it.
            pending.decided = True
            self._save(state, event.order_id, pending, record.timestamp_ms + DECIDED_RETENTION_MS)
            return
        pending.order.CopyFrom(event.order)
        due_ms = event.order.placed_at.ToMilliseconds() + self.timeout_ms
        verdict = decide(map(codec.outcome_from_pb, pending.outcomes))
        yield from self._decide(state, event.order_id, pending, due_ms, verdict)

    def _on_validation(self, record: Record, state: PartitionState) -> Iterator[Output]:
        validation = decode(record, VALIDATIONS)
        pending = self.pending.get(state, validation.order_id) or state_pb2.PendingVerdict()
        if pending.decided:
            return
        pending.outcomes.append(validation.outcome)
        if pending.HasField("order"):
            due_ms = pending.deadline.ToMilliseconds()
            verdict = decide(map(codec.outcome_from_pb, pending.outcomes))
        else:
            # Validations can overtake their order; wait for it, but not forever.
            due_ms = record.timestamp_ms + self.timeout_ms
            verdict = None
        yield from self._decide(state, validation.order_id, pending, due_ms, verdict)

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
        order = codec.rehydrate(pending.order)
        if verdict.state is OrderState.VALIDATED:
            order.validate(checks=verdict.checks)
        else:
            order.fail(checks=verdict.checks)
        for event in codec.events_to_pb(order, order.collect_events()):
            yield Output(self.topics.orders, order_id.encode(), event.SerializeToString())
        decided = state_pb2.PendingVerdict(decided=True)
        if pending.HasField("deadline"):
            decided.deadline.CopyFrom(pending.deadline)
        self._save(state, order_id, decided, due_ms + DECIDED_RETENTION_MS)

    def punctuate(self, now_ms: int, state: PartitionState) -> Iterator[Output]:
        for due_ms, order_id in self.deadlines.due(state, now_ms):
            pending = self.pending.get(state, order_id)
            if pending is None or pending.deadline.ToMilliseconds() != due_ms:
                continue
            if pending.decided or not pending.HasField("order"):
                # Retention over, or validations whose order never came.
                self.pending.delete(state, order_id)
                continue
            verdict = time_out(map(codec.outcome_from_pb, pending.outcomes), self.timeout_ms)
            yield from self._decide(state, order_id, pending, now_ms, verdict)
