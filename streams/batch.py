"""One batch of a processor's work, the same whether Kafka or memory drives it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from streams.processor import Processor
from streams.records import Output, PoisonRecord, Record
from streams.state import BatchState


class DeadLetterEncoder(Protocol):
    """Makes the dead letter of a record that can never be processed; the
    application supplies it (its topic and record format)."""

    def __call__(self, record: Record, reason: str, processor: str, now_ms: int) -> Output: ...


def run_batch(
    processor: Processor,
    records: Iterable[Record],
    state: BatchState,
    now_ms: int,
    dead_letter: DeadLetterEncoder,
    punctuate_partitions: Iterable[int] = (),
) -> list[Output]:
    """Processes records (and punctuations) into outputs and state changes.

    A record the processor rejects as poison leaves no state change behind and
    becomes a dead letter; the batch goes on.
    """
    outputs: list[Output] = []
    for record in records:
        partition_state = state.partition(record.partition)
        try:
            produced = list(processor.process(record, partition_state))
        except PoisonRecord as poison:
            partition_state.rollback()
            outputs.append(dead_letter(record, str(poison), processor.name, now_ms))
            continue
        partition_state.commit()
        outputs.extend(produced)
    for partition in sorted(punctuate_partitions):
        partition_state = state.partition(partition)
        outputs.extend(processor.punctuate(now_ms, partition_state))
        partition_state.commit()
    return outputs
