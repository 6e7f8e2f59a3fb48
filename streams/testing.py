"""An in-memory stand-in for Kafka to test processors without a broker.

The analogue of Kafka Streams' TopologyTestDriver: topics are lists per
partition, each processor keeps its state in memory, and `run()` feeds every
processor what it has not seen yet until nothing new is produced. Batches go
through the same `run_batch` as the Kafka runner, so dead letters, per-record
rollback and punctuation behave the same.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.batch import DeadLetterEncoder, PunctuationGuard, run_batch
from streams.partitioning import partition_for
from streams.processor import Processor
from streams.records import Output, Record
from streams.state import BatchState, MemoryBackend


@dataclass
class _Attached:
    processor: Processor
    backend: MemoryBackend = field(default_factory=MemoryBackend)
    guard: PunctuationGuard = field(default_factory=PunctuationGuard)
    # Next offset to read per (topic, partition).
    positions: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))


class TestDriver:
    __test__ = False  # not a pytest test class

    def __init__(self, processors: Iterable[Processor], dead_letter: DeadLetterEncoder, partitions: int = 3) -> None:
        self.partitions = partitions
        self.now_ms = 1_700_000_000_000
        self.dead_letter = dead_letter
        self._topics: dict[str, list[list[Record]]] = {}
        self._attached = [_Attached(p) for p in processors]

    def _log(self, topic: str) -> list[list[Record]]:
        return self._topics.setdefault(topic, [[] for _ in range(self.partitions)])

    def produce(self, output: Output, timestamp_ms: int | None = None) -> Record:
        log = self._log(output.topic)
        if output.partition is not None:
            partition = output.partition
        elif output.key is not None:
            partition = partition_for(output.key, self.partitions)
        else:
            partition = 0
        record = Record(
            output.topic,
            partition,
            len(log[partition]),
            output.key,
            output.value,
            self.now_ms if timestamp_ms is None else timestamp_ms,
        )
        log[partition].append(record)
        return record

    def pipe(self, topic: str, key: bytes | None, value: bytes | None, timestamp_ms: int | None = None) -> Record:
        return self.produce(Output(topic, key, value), timestamp_ms)

    def records(self, topic: str) -> list[Record]:
        """Every record of a topic, partition by partition, in offset order."""
        return [r for partition in self._log(topic) for r in partition]

    def run(self, max_rounds: int = 100) -> None:
        """Processes until every processor has consumed everything."""
        for _ in range(max_rounds):
            if not any(self._step(attached, punctuate=False) for attached in self._attached):
                return
        raise RuntimeError("the pipeline did not settle: a processor feeds itself forever")

    def advance(self, ms: int) -> None:
        """Moves the clock, punctuates every processor, and runs to quiescence."""
        self.now_ms += ms
        for attached in self._attached:
            self._step(attached, punctuate=True)
        self.run()

    def state(self, processor: Processor) -> MemoryBackend:
        return next(a.backend for a in self._attached if a.processor is processor)

    def _step(self, attached: _Attached, punctuate: bool) -> bool:
        records = []
        for topic in attached.processor.inputs:
            for partition, log in enumerate(self._log(topic)):
                start = attached.positions[(topic, partition)]
                records.extend(log[start:])
                attached.positions[(topic, partition)] = len(log)
        if not records and not punctuate:
            return False
        records.sort(key=lambda r: (r.timestamp_ms, r.topic, r.partition, r.offset))
        state = BatchState(attached.backend)
        outputs = run_batch(
            attached.processor,
            records,
            state,
            self.now_ms,
            self.dead_letter,
            punctuate_partitions=range(self.partitions) if punctuate else (),
            guard=attached.guard,
        )
        for output in outputs:
            self.produce(output)
        attached.backend.apply(state.changes, {})
        return bool(records)
