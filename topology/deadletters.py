"""Dead letters: records that can never be processed, on `dead-letters` as
`oms.deadletter.v1.DeadLetter`, with where they came from and why."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from oms.deadletter.v1.dead_letter_pb2 import DeadLetter
from streams.records import Output, Record


class DeadLetters:
    """The DeadLetterEncoder of oms: one DeadLetter per record, to `topic`."""

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def __call__(self, record: Record, reason: str, processor: str, now_ms: int, key: bytes | None = None) -> Output:
        """The dead letter of record, keyed by key (default: the record's key)."""
        failed_at = Timestamp()
        failed_at.FromMilliseconds(now_ms)
        letter = DeadLetter(
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            key=record.key or b"",
            value=record.value or b"",
            reason=reason,
            processor=processor,
            failed_at=failed_at,
        )
        return Output(self.topic, record.key if key is None else key, letter.SerializeToString())
