"""One batch of a processor's work, the same whether Kafka or memory drives it."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.timestamp_pb2 import Timestamp

from oms.deadletter.v1.dead_letter_pb2 import DeadLetter
from streams.processor import Processor
from streams.records import Output, PoisonRecord, Record
from streams.state import BatchState


def dead_letter(processor: Processor, record: Record, reason: str, now_ms: int, topic: str) -> Output:
    failed_at = Timestamp()
    failed_at.FromMilliseconds(now_ms)
    letter = DeadLetter(
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        key=record.key or b"",
        value=record.value or b"",
        reason=reason,
        processor=processor.name,
        failed_at=failed_at,
    )
    return Output(topic, record.key, letter.SerializeToString())


def run_batch(
    processor: Processor,
    records: Iterable[Record],
    state: BatchState,
    now_ms: int,
    dead_letter_topic: str,
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
            outputs.append(dead_letter(processor, record, str(poison), now_ms, dead_letter_topic))
            continue
        partition_state.commit()
        outputs.extend(produced)
    for partition in sorted(punctuate_partitions):
        partition_state = state.partition(partition)
        outputs.extend(processor.punctuate(now_ms, partition_state))
        partition_state.commit()
    return outputs
