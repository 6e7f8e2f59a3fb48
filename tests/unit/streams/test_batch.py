"""run_batch: a poison record becomes a dead letter and leaves no state behind."""

from __future__ import annotations

from collections.abc import Iterator

from oms.deadletter.v1.dead_letter_pb2 import DeadLetter
from streams.batch import run_batch
from streams.records import Output, PoisonRecord, Record
from streams.state import BatchState, MemoryBackend, PartitionState
from topology.deadletters import DeadLetters


class Recorder:
    """Stores every value it sees, then rejects values starting with b'bad' half-way."""

    name = "recorder"
    inputs = ("in",)
    stateful = True

    def process(self, record: Record, state: PartitionState) -> Iterator[Output]:
        state.put(record.key or b"", record.value or b"")
        if (record.value or b"").startswith(b"bad"):
            raise PoisonRecord("bad value")
        yield Output("out", record.key, record.value)

    def punctuate(self, now_ms: int, state: PartitionState) -> Iterator[Output]:
        state.put(b"punctuated", str(now_ms).encode())
        yield Output("ticks", None, str(state.partition).encode())


def record(offset: int, key: bytes, value: bytes, partition: int = 0) -> Record:
    return Record("in", partition, offset, key, value, 1000 + offset)


def test_a_poison_record_is_dead_lettered_without_its_state_and_the_batch_goes_on() -> None:
    batch = BatchState(MemoryBackend())

    outputs = run_batch(
        Recorder(),
        [record(0, b"a", b"ok"), record(1, b"b", b"bad!"), record(2, b"c", b"ok too")],
        batch,
        5000,
        DeadLetters("dlq"),
    )

    assert [(o.topic, o.key) for o in outputs] == [("out", b"a"), ("dlq", b"b"), ("out", b"c")]
    assert batch.changes == {(0, b"a"): b"ok", (0, b"c"): b"ok too"}
    letter = DeadLetter.FromString(outputs[1].value or b"")
    assert (letter.source_topic, letter.source_offset, letter.key, letter.value) == ("in", 1, b"b", b"bad!")
    assert (letter.reason, letter.processor, letter.failed_at.ToMilliseconds()) == ("bad value", "recorder", 5000)


def test_punctuation_runs_per_requested_partition_and_commits_its_state() -> None:
    batch = BatchState(MemoryBackend())

    outputs = run_batch(Recorder(), [], batch, 7000, DeadLetters("dlq"), punctuate_partitions=[2, 0])

    assert [o.value for o in outputs] == [b"0", b"2"]
    assert batch.changes == {(0, b"punctuated"): b"7000", (2, b"punctuated"): b"7000"}
