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
from streams.kafka import Brokers, TransactionAborted, TransactionalIO, read_changelog
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
        self._io = TransactionalIO(
            brokers,
            group_id,
            transactional_id,
            inputs,
            on_assigned=self._assigned,
            on_revoked=self._revoked,
            group_instance_id=group_instance_id,
            on_lag=self._metrics.lag,
        )

    def is_ready(self) -> bool:
        """Ready once it has its first partitions and is not restoring state."""
        return self.ready.is_set() and not self._restoring

    def _assigned(self, partitions: set[int]) -> None:
        self._rebalances += 1
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

    def step(self) -> None:
        """Polls once and processes what came as one transaction."""
        records = self._poll_batch()
        started = time.perf_counter()
        now_ms = int(self._clock() * 1000)
        punctuate = now_ms - self._last_punctuation_ms >= self._punctuate_interval_ms
        if not records and not punctuate:
            return
        outputs: list[Output] = []
        states: list[tuple[Hosted, BatchState]] = []
        for hosted in self.hosted:
            state = BatchState(hosted.backend)
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
            states.append((hosted, state))
        if punctuate:
            self._last_punctuation_ms = now_ms
        if not records and not outputs and not any(state.changes for _, state in states):
            return
        following = {(record.topic, record.partition): record.offset + 1 for record in records}
        try:
            self._io.begin()
            for output in outputs:
                self._io.send(output)
            for hosted, state in states:
                for (partition, key), value in state.changes.items():
                    self._io.send(Output(hosted.changelog_topic, key, value, partition=partition))
            committing = time.perf_counter()
            delivered = self._io.commit(following)
        except TransactionAborted as exc:
            log.warning("%s aborts a batch of %d records: %s", self.name, len(records), exc)
            self.aborted_batches += 1
            self._metrics.aborted()
            self._io.abort()
            self._io.rewind(_first_offsets(records))
            return
        self.committed_batches += 1
        done = time.perf_counter()
        self._metrics.committed(records, outputs, commit_s=done - committing, batch_s=done - started)
        checkpoints: dict[str, dict[int, int]] = {}
        for topic, partition, offset in delivered:
            reached = checkpoints.setdefault(topic, {})
            reached[partition] = max(reached.get(partition, 0), offset + 1)
        for hosted, state in states:
            hosted.backend.apply(state.changes, checkpoints.get(hosted.changelog_topic, {}))
