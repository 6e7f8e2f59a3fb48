"""One batch of a processor's work, the same whether Kafka or memory drives it.

Faults of a record stay with the record: whatever a processor raises while
handling one (a PoisonRecord, or any other exception: a rule that breaks, an
event of a version the code cannot rehydrate) rolls back what that record
staged and turns it into a dead letter, with the error and where the record
came from; the batch goes on. What is not the record's fault is not caught:
Kafka and transaction errors (StreamsError: the runner aborts or stops),
MemoryError, and BaseExceptions such as KeyboardInterrupt and SystemExit.

Punctuation the same: a `punctuate` that raises while it handles a due timer
entry (`streams.stores.Timers.due`) rolls back the partition's punctuation,
drops that entry from the index as a dead letter (key: the entry's timer
key), and runs the partition's punctuation again for the rest, so one bad
entry never holds up the others. A `punctuate` that raises outside any timer
entry cannot be narrowed down: that partition's punctuation is suspended for
a growing while (PUNCTUATION_BACKOFF_MS, doubling up to
PUNCTUATION_BACKOFF_MAX_MS), dead-lettered once per run of failures and
logged on each; records go on being processed meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from streams.kafka import StreamsError
from streams.processor import Processor
from streams.records import Output, PoisonRecord, Record
from streams.state import BatchState, PartitionState

log = logging.getLogger(__name__)

# Exceptions that are no record's fault: they end the batch (the runner aborts
# its transaction or stops), never a dead letter.
NOT_A_RECORDS_FAULT: tuple[type[BaseException], ...] = (StreamsError, MemoryError)

PUNCTUATION_BACKOFF_MS = 1_000
PUNCTUATION_BACKOFF_MAX_MS = 10 * 60 * 1000
# A punctuation that fails this often in one batch gives up until the next one.
MAX_PUNCTUATION_RETRIES = 1_000

# The source topic of the dead letter of a failed punctuation (no record).
PUNCTUATION_SOURCE = "(punctuation)"


class DeadLetterEncoder(Protocol):
    """Makes the dead letter of a record that can never be processed; the
    application supplies it (its topic and record format)."""

    def __call__(self, record: Record, reason: str, processor: str, now_ms: int) -> Output: ...


@dataclass
class PunctuationGuard:
    """Per partition, how long punctuation is suspended after failures that
    no timer entry explains; one per processor, kept across batches."""

    failures: dict[int, int] = field(default_factory=dict)
    suspended_until_ms: dict[int, int] = field(default_factory=dict)

    def allows(self, partition: int, now_ms: int) -> bool:
        return now_ms >= self.suspended_until_ms.get(partition, 0)

    def failed(self, partition: int, now_ms: int) -> int:
        """Suspends the partition's punctuation; returns how many failures in a row."""
        count = self.failures.get(partition, 0) + 1
        self.failures[partition] = count
        backoff = min(PUNCTUATION_BACKOFF_MAX_MS, PUNCTUATION_BACKOFF_MS * 2 ** min(count - 1, 30))
        self.suspended_until_ms[partition] = now_ms + backoff
        return count

    def succeeded(self, partition: int) -> None:
        self.failures.pop(partition, None)
        self.suspended_until_ms.pop(partition, None)


def describe(exc: BaseException) -> str:
    """A dead letter's reason: a PoisonRecord's own words, else the error's type and message."""
    if isinstance(exc, PoisonRecord):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def run_batch(
    processor: Processor,
    records: Iterable[Record],
    state: BatchState,
    now_ms: int,
    dead_letter: DeadLetterEncoder,
    punctuate_partitions: Iterable[int] = (),
    guard: PunctuationGuard | None = None,
) -> list[Output]:
    """Processes records (and punctuations) into outputs and state changes.

    A record the processor fails on leaves no state change behind and
    becomes a dead letter; the batch goes on (see the module's docstring).
    """
    outputs: list[Output] = []
    for record in records:
        partition_state = state.partition(record.partition)
        try:
            produced = list(processor.process(record, partition_state))
        except NOT_A_RECORDS_FAULT:
            raise
        except Exception as exc:
            partition_state.rollback()
            if not isinstance(exc, PoisonRecord):
                log.error(
                    "%s failed on %s[%d]@%d, dead-lettered",
                    processor.name,
                    record.topic,
                    record.partition,
                    record.offset,
                    exc_info=exc,
                )
            outputs.append(dead_letter(record, describe(exc), processor.name, now_ms))
            continue
        partition_state.commit()
        outputs.extend(produced)
    guard = guard if guard is not None else PunctuationGuard()
    for partition in sorted(punctuate_partitions):
        if guard.allows(partition, now_ms):
            outputs.extend(_punctuate(processor, state.partition(partition), now_ms, dead_letter, guard))
    return outputs


def _punctuate(
    processor: Processor,
    partition_state: PartitionState,
    now_ms: int,
    dead_letter: DeadLetterEncoder,
    guard: PunctuationGuard,
) -> list[Output]:
    letters: list[Output] = []
    partition = partition_state.partition
    for _ in range(MAX_PUNCTUATION_RETRIES):
        partition_state.handing_out = None
        try:
            produced = list(processor.punctuate(now_ms, partition_state))
        except NOT_A_RECORDS_FAULT:
            raise
        except Exception as exc:
            entry = partition_state.handing_out
            partition_state.rollback()
            source = Record(PUNCTUATION_SOURCE, partition, -1, entry, None, now_ms)
            reason = f"punctuation failed: {describe(exc)}"
            if entry is None:
                count = guard.failed(partition, now_ms)
                log.error(
                    "%s: punctuation of partition %d failed (%d in a row), suspended until %d",
                    processor.name,
                    partition,
                    count,
                    guard.suspended_until_ms[partition],
                    exc_info=exc,
                )
                if count == 1:
                    letters.append(dead_letter(source, reason, processor.name, now_ms))
                return letters
            log.error(
                "%s: punctuation of partition %d failed on timer entry %r, dead-lettered",
                processor.name,
                partition,
                entry,
                exc_info=exc,
            )
            # The entry leaves the index for good; the rest are tried again.
            partition_state.delete(entry)
            partition_state.commit()
            letters.append(dead_letter(source, reason, processor.name, now_ms))
            continue
        partition_state.commit()
        guard.succeeded(partition)
        return letters + produced
    return letters
