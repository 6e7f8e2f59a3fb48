"""Drives processors against Kafka: consume -> step -> produce, exactly once.

A runner hosts one processor or several (the way one Kafka Streams instance
runs all its sub-topologies): one consumer over all their inputs, one
transactional producer. Each batch is one Kafka transaction holding every
hosted processor's outputs, its state changes (as records of its own
changelog) and the consumed offsets. Only after the transaction commits does
each local LevelDB store receive the same state changes, with the changelog
offset they reach. A crash anywhere loses nothing: before the commit, the
transaction aborts and the batch is consumed again; after it, the stores
catch up from their changelogs on start-up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from streams.batch import DeadLetterEncoder, PunctuationGuard, run_batch
from streams.handoff import MAX_ROUNDS, HandOffBatch, HandOffs
from streams.kafka import Brokers, TransactionAborted, TransactionalIO, partition_count, read_changelog
from streams.metrics import Metrics, RunnerMetrics
from streams.processor import Processor
from streams.records import Output, Record
from streams.state import BatchState, MemoryBackend, StateBackend

log = logging.getLogger(__name__)

# Half the broker's default delete.retention.ms.
STALE_CHECKPOINT_MS = 12 * 60 * 60 * 1000
# A poll that brings this many records gathers more for the whole commit
# interval; a smaller one for a share of it, none below MIN_GATHER_S.
GATHER_FULL = 50
MIN_GATHER_S = 0.002
# Records read back only to be skipped (handed off before) need no
# transaction of their own: their offsets go with the next batch's, or are
# committed alone after this long (how far the group has read is watched).
SKIPPED_COMMIT_DELAY_S = 0.1


def _first_offsets(records: list[Record]) -> dict[tuple[str, int], int]:
    first: dict[tuple[str, int], int] = {}
    for record in records:
        first.setdefault((record.topic, record.partition), record.offset)
    return first


@dataclass
class Hosted:
    """One processor of a runner, with its own changelog topic and store (a
    stateless one has neither: its store stays empty)."""

    processor: Processor
    changelog_topic: str = ""
    backend: StateBackend = field(default_factory=MemoryBackend)
    guard: PunctuationGuard = field(default_factory=PunctuationGuard)

    def __post_init__(self) -> None:
        if self.processor.stateful and not self.changelog_topic:
            raise ValueError(f"{self.processor.name} keeps state: it needs a changelog topic")
        self.reads = frozenset(self.processor.inputs)


class ProcessorRunner:
    """Runs `hosted` processors as one consumer group member (`group_id`)
    with one transactional id. All their inputs must have the same partition
    count: partition N of each is the same task, owned by one member."""

    def __init__(
        self,
        hosted: Sequence[Hosted],
        brokers: Brokers,
        group_id: str,
        transactional_id: str,
        dead_letter: DeadLetterEncoder,
        name: str = "",
        max_batch: int = 10_000,
        commit_interval_ms: int = 20,
        punctuate_interval_ms: int = 200,
        clock: Callable[[], float] = time.time,
        group_instance_id: str | None = None,
        metrics: RunnerMetrics | None = None,
        hand_off: bool = True,
        private_topics: frozenset[str] = frozenset(),
    ) -> None:
        if not hosted:
            raise ValueError("a runner hosts at least one processor")
        self.hosted = tuple(hosted)
        self.name = name or "+".join(h.processor.name for h in self.hosted)
        self._brokers = brokers
        self._dead_letter = dead_letter
        self._max_batch = max_batch
        self._interval_s = commit_interval_ms / 1000
        self._punctuate_interval_ms = punctuate_interval_ms
        self._clock = clock
        self._owned: set[int] = set()
        # Counts assignments and revocations, to notice a batch that straddles one.
        self._rebalances = 0
        self._last_punctuation_ms = 0
        self.ready = threading.Event()
        # Set while a newly assigned partition's state is read back from its changelog.
        self._restoring = False
        self._metrics = metrics if metrics is not None else Metrics().runner(self.name)
        self._metrics.readiness(self.is_ready)
        self.committed_batches = 0
        self.aborted_batches = 0
        inputs = dict.fromkeys(topic for h in self.hosted for topic in h.processor.inputs)
        self._inputs = list(inputs)
        self._hand_off = hand_off
        # Re-keys only these processors read: not written when handed off.
        self._private = private_topics & set(self._inputs)
        # Made once the consumer is up (it needs the inputs' partition counts).
        self._handoffs: HandOffs | None = None
        # Offsets past records read back only to be skipped, not yet committed.
        self._skipped_through: dict[tuple[str, int], int] = {}
        self._skipped_since = 0.0
        self._io = TransactionalIO(
            brokers,
            group_id,
            transactional_id,
            inputs,
            on_assigned=self._assigned,
            on_revoked=self._revoked,
            group_instance_id=group_instance_id,
            on_lag=self._metrics.lag,
            # Offsets the runner needs: its changelogs' (state checkpoints) and
            # its own inputs' (hand-off holds).
            reported_topics=[*inputs, *(h.changelog_topic for h in self.hosted if h.changelog_topic)],
        )

    def is_ready(self) -> bool:
        """Ready once it has its first partitions and is not restoring state."""
        return self.ready.is_set() and not self._restoring

    def _assigned(self, partitions: set[int]) -> None:
        self._rebalances += 1
        if self._handoffs is not None:
            self._handoffs.assigned(self._io.committed([(t, p) for t in self._inputs for p in partitions]))
        self._restoring = True
        try:
            for hosted in self.hosted:
                if hosted.processor.stateful:
                    for partition in sorted(partitions - self._owned):
                        self._restore(hosted, partition)
        finally:
            self._restoring = False
        self._owned |= partitions
        self.ready.set()
        log.info("%s owns partitions %s", self.name, sorted(self._owned))

    def _revoked(self, partitions: set[int]) -> None:
        # No transaction is open here: rebalances happen inside poll(), and
        # every batch is committed or aborted before its transaction begins.
        self._rebalances += 1
        self._owned -= partitions
        # Their new owner (or this one, reading again from the committed
        # offsets) skips those records by the committed skip list.
        self._skipped_through = {tp: o for tp, o in self._skipped_through.items() if tp[1] not in partitions}
        if self._handoffs is not None:
            self._handoffs.revoked(partitions)

    def _restore(self, hosted: Hosted, partition: int) -> None:
        backend, name = hosted.backend, hosted.processor.name
        start = backend.checkpoint(partition)
        age_ms = int(self._clock() * 1000) - backend.checkpointed_at_ms(partition)
        if start and age_ms > STALE_CHECKPOINT_MS:
            # Compaction drops tombstones after delete.retention.ms (a day by
            # default): a store this old may hold keys deleted since. Rebuild.
            log.info("%s rebuilds partition %d: its checkpoint is %d s old", name, partition, age_ms // 1000)
            backend.clear(partition)
            start = 0
        changes: dict[tuple[int, bytes], bytes | None] = {}
        restored = 0
        next_offset = start
        for record in read_changelog(self._brokers, hosted.changelog_topic, partition, start):
            if record.key is not None:
                changes[(partition, record.key)] = record.value
            next_offset = record.offset + 1
            restored += 1
            if len(changes) >= 10_000:
                backend.apply(changes, {partition: next_offset})
                changes = {}
        if restored:
            backend.apply(changes, {partition: next_offset})
        log.info(
            "%s restored partition %d: %d changelog records from offset %d",
            name,
            partition,
            restored,
            start,
        )

    def run(self, stop: threading.Event) -> None:
        self._io.start()
        if self._hand_off:
            counts = {topic: partition_count(self._brokers, topic) for topic in self._inputs}
            self._handoffs = HandOffs(self._inputs, counts, self._private)
        try:
            while not stop.is_set():
                self.step()
        finally:
            self._io.close()
            for hosted in self.hosted:
                hosted.backend.close()

    def _poll_batch(self) -> list[Record]:
        """The next batch of records.

        A poll brings what is there at once. A large batch means load, and
        then more is gathered, the longer the larger it is, up to the commit
        interval for GATHER_FULL records: under load fewer, larger
        transactions (each costs the broker about the same whatever its
        size), while at low rates a record goes through with no delay.
        """
        rebalances = self._rebalances
        records = self._io.poll(self._max_batch, self._interval_s)
        gather_s = self._interval_s * min(1.0, len(records) / GATHER_FULL)
        if gather_s >= MIN_GATHER_S:
            deadline = time.monotonic() + gather_s
            while len(records) < self._max_batch and (left := deadline - time.monotonic()) > 0:
                more = self._io.poll(self._max_batch - len(records), left)
                if not more:
                    break
                records.extend(more)
        if records and self._rebalances != rebalances:
            # Some records may be of partitions this instance no longer owns,
            # or that it got back and reads again from their committed offset.
            # Drop the batch and read on from where each owned partition's
            # first dropped record was: that is its committed offset.
            log.info("%s drops a batch of %d records that straddles a rebalance", self.name, len(records))
            self._io.rewind(_first_offsets(records))
            return []
        return records

    def _process(
        self, records: list[Record], states: list[tuple[Hosted, BatchState]], now_ms: int, punctuate: bool
    ) -> list[Output]:
        """Each hosted processor's outputs for the records of its inputs."""
        outputs: list[Output] = []
        for hosted, state in states:
            mine = records if len(self.hosted) == 1 else [r for r in records if r.topic in hosted.reads]
            outputs += run_batch(
                hosted.processor,
                mine,
                state,
                now_ms,
                self._dead_letter,
                punctuate_partitions=self._owned if punctuate else (),
                guard=hosted.guard,
            )
        return outputs

    def _send(self, outputs: list[Output], batch: HandOffBatch | None, now_ms: int, last_round: bool) -> list[Record]:
        """Produces outputs; returns those handed off, as the records their
        readers will consume (but for the offset, which the broker assigns
        later: -1 here; the skip list gets it from the delivery report)."""
        handed: list[Record] = []
        for output in outputs:
            tp = batch.decide(output, self._owned, last_round) if batch is not None else None
            if tp is None:
                self._io.send(output)
                continue
            handed.append(Record(tp[0], tp[1], -1, output.key, output.value, now_ms))
            if tp[0] in self._private:
                continue  # read by no one else: not written at all

            def delivered(record: Record, tp: tuple[str, int] = tp) -> None:
                batch.delivered(tp, record.offset)  # type: ignore[union-attr]

            # Its timestamp is set, so that the record read back is this one.
            self._io.send(output, on_delivered=delivered, timestamp_ms=now_ms)
        return handed

    def step(self) -> None:
        """Polls once and processes what came as one transaction."""
        consumed = self._poll_batch()
        started = time.perf_counter()
        now_ms = int(self._clock() * 1000)
        punctuate = now_ms - self._last_punctuation_ms >= self._punctuate_interval_ms
        overdue = bool(self._skipped_through) and time.monotonic() - self._skipped_since >= SKIPPED_COMMIT_DELAY_S
        if not consumed and not punctuate and not overdue:
            return
        handoffs = self._handoffs
        records = consumed
        if handoffs is not None:
            records = [r for r in consumed if not handoffs.skipped(r.topic, r.partition, r.offset)]
        states = [(hosted, BatchState(hosted.backend)) for hosted in self.hosted]
        outputs = self._process(records, states, now_ms, punctuate)
        if punctuate:
            self._last_punctuation_ms = now_ms
        following = {(record.topic, record.partition): record.offset + 1 for record in consumed}
        if not records and not outputs and not any(state.changes for _, state in states) and not overdue:
            if following:  # only records to skip: their offsets wait for the next batch
                self._skipped_since = self._skipped_since if self._skipped_through else time.monotonic()
                self._skipped_through.update(following)
            return
        following = {**self._skipped_through, **following}
        batch = handoffs.batch() if handoffs is not None else None
        processed, produced = list(records), list(outputs)
        try:
            self._io.begin()
            for round in range(MAX_ROUNDS):
                handed = self._send(outputs, batch, now_ms, last_round=round == MAX_ROUNDS - 1)
                if not handed:
                    break
                outputs = self._process(handed, states, now_ms, punctuate=False)
                processed += handed
                produced += outputs
            if batch is not None and batch.sending:
                self._io.flush()  # the offsets of what was handed off, for the skip list
            for hosted, state in states:
                for (partition, key), value in state.changes.items():
                    self._io.send(Output(hosted.changelog_topic, key, value, partition=partition))
            metadata = None
            if handoffs is not None and batch is not None:
                following, metadata = handoffs.commit_plan(following, batch)
            committing = time.perf_counter()
            delivered = self._io.commit(following, metadata=metadata)
        except TransactionAborted as exc:
            log.warning("%s aborts a batch of %d records: %s", self.name, len(consumed), exc)
            self.aborted_batches += 1
            self._metrics.aborted()
            self._io.abort()
            self._io.rewind(_first_offsets(consumed))
            return
        self.committed_batches += 1
        self._skipped_through.clear()
        done = time.perf_counter()
        if handoffs is not None and batch is not None:
            handoffs.committed_batch(following, batch, delivered, self._owned)
        self._metrics.committed(processed, produced, commit_s=done - committing, batch_s=done - started)
        checkpoints: dict[str, dict[int, int]] = {}
        for topic, partition, offset in delivered:
            reached = checkpoints.setdefault(topic, {})
            reached[partition] = max(reached.get(partition, 0), offset + 1)
        for hosted, state in states:
            hosted.backend.apply(state.changes, checkpoints.get(hosted.changelog_topic, {}))
