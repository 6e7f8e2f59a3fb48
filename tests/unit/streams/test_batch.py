"""run_batch: a record that fails becomes a dead letter and leaves no state
behind; a punctuation that fails neither stops the others nor loops."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oms.deadletter.v1.dead_letter_pb2 import DeadLetter
from streams.batch import PUNCTUATION_SOURCE, PunctuationGuard, run_batch
from streams.codecs import STR
from streams.kafka import Fenced, TransactionAborted
from streams.records import Output, PoisonRecord, Record
from streams.state import BatchState, MemoryBackend, PartitionState
from streams.stores import Timers
from streams.testing import TestDriver
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


class Fragile:
    """Fails on values naming an exception type, after staging a write."""

    name = "fragile"
    inputs = ("in",)
    stateful = True

    def process(self, record: Record, state: PartitionState) -> Iterator[Output]:
        state.put(record.key or b"", record.value or b"")
        value = (record.value or b"").decode()
        if value == "ValueError":
            raise ValueError("version 2 is not known here")
        if value == "KeyError":
            raise KeyError("missing")
        if value == "TransactionAborted":
            raise TransactionAborted("the broker said no")
        if value == "Fenced":
            raise Fenced("another instance took over")
        if value == "KeyboardInterrupt":
            raise KeyboardInterrupt
        yield Output("out", record.key, record.value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [(b"ValueError", "ValueError: version 2 is not known here"), (b"KeyError", "KeyError: 'missing'")],
)
def test_any_exception_of_a_record_dead_letters_it_with_the_error_and_the_batch_goes_on(
    value: bytes, reason: str
) -> None:
    batch = BatchState(MemoryBackend())

    outputs = run_batch(
        Fragile(),
        [record(0, b"a", b"ok"), record(7, b"b", value, partition=2), record(8, b"c", b"ok too")],
        batch,
        5000,
        DeadLetters("dlq"),
    )

    assert [(o.topic, o.key) for o in outputs] == [("out", b"a"), ("dlq", b"b"), ("out", b"c")]
    assert batch.changes == {(0, b"a"): b"ok", (0, b"c"): b"ok too"}
    letter = DeadLetter.FromString(outputs[1].value or b"")
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == ("in", 2, 7)
    assert (letter.reason, letter.processor, letter.value) == (reason, "fragile", value)


@pytest.mark.parametrize(
    ("value", "error"),
    [(b"TransactionAborted", TransactionAborted), (b"Fenced", Fenced), (b"KeyboardInterrupt", KeyboardInterrupt)],
)
def test_errors_that_are_no_records_fault_are_not_dead_lettered(value: bytes, error: type[BaseException]) -> None:
    with pytest.raises(error):
        run_batch(Fragile(), [record(0, b"a", b"ok"), record(1, b"b", value)], BatchState(MemoryBackend()), 0, DLQ)


DLQ = DeadLetters("dlq")
TIMERS = Timers("due", STR)


class Reminders:
    """Punctuation sends each due reminder; one named 'boom' breaks its handling."""

    name = "reminders"
    inputs = ("in",)
    stateful = True

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken

    def process(self, record: Record, state: PartitionState) -> Iterator[Output]:
        TIMERS.schedule(state, int((record.value or b"0").decode()), (record.key or b"").decode())
        return iter(())

    def punctuate(self, now_ms: int, state: PartitionState) -> Iterator[Output]:
        if self.broken:
            raise RuntimeError("the clock is broken")
        for _, name in TIMERS.due(state, now_ms):
            state.put(b"sent/" + name.encode(), b"")
            if name == "boom":
                raise ValueError("cannot remind boom")
            yield Output("reminders", name.encode(), None)


def test_a_timer_entry_whose_punctuation_fails_is_dead_lettered_and_the_others_go_on() -> None:
    driver = TestDriver([processor := Reminders()], DLQ, partitions=1)
    for name, due in (("a", 100), ("boom", 200), ("c", 300), ("late", 10**9)):
        driver.pipe("in", name.encode(), str(driver.now_ms + due).encode())
    driver.run()

    driver.advance(1000)
    driver.advance(1000)

    assert [r.key for r in driver.records("reminders")] == [b"a", b"c"]
    (letter,) = [DeadLetter.FromString(r.value or b"") for r in driver.records("dlq")]
    assert letter.reason == "punctuation failed: ValueError: cannot remind boom"
    assert letter.source_topic == PUNCTUATION_SOURCE and letter.key.endswith(b"/boom")
    state = driver.state(processor)
    assert [k for k, _ in state.scan(0, b"sent/")] == [b"sent/a", b"sent/c"]
    assert [k for k, _ in state.scan(0, b"due/")] == [TIMERS.keys.key(driver.now_ms - 2000 + 10**9, b"late")]


def test_a_punctuation_that_fails_outside_any_timer_entry_is_suspended_with_growing_pauses() -> None:
    guard = PunctuationGuard()
    processor = Reminders(broken=True)
    letters = []
    for now_ms in range(0, 10_000, 100):
        outputs = run_batch(processor, [], BatchState(MemoryBackend()), now_ms, DLQ, [0], guard)
        letters += [(now_ms, DeadLetter.FromString(o.value or b"")) for o in outputs]

    # Tried at 0, 1 s, 3 s and 7 s: dead-lettered once, then only logged.
    assert guard.failures[0] == 4
    assert [(at, letter.reason) for at, letter in letters] == [
        (0, "punctuation failed: RuntimeError: the clock is broken")
    ]

    processor.broken = False
    run_batch(processor, [], BatchState(MemoryBackend()), 15_000, DLQ, [0], guard)
    assert guard.allows(0, 15_001) and 0 not in guard.failures
