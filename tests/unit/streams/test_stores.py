"""Typed stores, codecs, the timer index and the one decode path of streams/."""

from __future__ import annotations

from pathlib import Path

import pytest

from oms.validation.v1 import state_pb2
from streams.codecs import BYTES, EMPTY, INT, INT64, STR, CodecError, PartsCodec, protobuf
from streams.leveldb import KeyValueDb
from streams.processor import Processor, decode
from streams.records import PoisonRecord, Record
from streams.state import BatchState, MemoryBackend, PartitionState
from streams.stores import Store, TimerKeys, Timers


def partition_state() -> PartitionState:
    return BatchState(MemoryBackend()).partition(0)


# Codecs


@pytest.mark.parametrize(
    ("codec", "value", "raw"),
    [
        (BYTES, b"\x00\xff", b"\x00\xff"),
        (STR, "caf\u00e9", "caf\u00e9".encode()),
        (INT, 1_700_000_000_000, b"1700000000000"),
        (INT64, -2, b"\xff" * 7 + b"\xfe"),
        (EMPTY, None, b""),
        (PartsCodec(2), ("42", "o/1"), b"42/o/1"),
    ],
)
def test_codecs_encode_to_their_layout_and_back(codec, value, raw) -> None:  # type: ignore[no-untyped-def]
    assert codec.encode(value) == raw
    assert codec.decode(raw) == value


@pytest.mark.parametrize(("codec", "raw"), [(STR, b"\xff"), (INT, b"12a"), (INT64, b"\x00"), (PartsCodec(3), b"a/b")])
def test_bytes_a_codec_cannot_read_raise_codec_error(codec, raw) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CodecError):
        codec.decode(raw)


def test_a_protobuf_codec_reads_its_message_and_names_it_when_it_cannot() -> None:
    codec = protobuf(state_pb2.Hold)
    hold = state_pb2.Hold(quantity=3, state=state_pb2.HOLD_STATE_HELD)

    assert codec.decode(codec.encode(hold)) == hold
    assert codec.decode(b"") == state_pb2.Hold()
    with pytest.raises(CodecError, match=r"^not a Hold: "):
        codec.decode(b"\xff\xff\xff")
    with pytest.raises(CodecError, match=r"^not an InventoryClaim: "):
        protobuf(state_pb2.InventoryClaim).decode(b"\xff\xff\xff")


# Stores


def test_a_store_keeps_typed_values_under_its_name() -> None:
    state = partition_state()
    holds = Store("hold", PartsCodec(2), protobuf(state_pb2.Hold))
    held = state_pb2.Hold(quantity=2)

    assert holds.get(state, ("JUMPERS", "o1")) is None
    holds.put(state, ("JUMPERS", "o1"), held)

    assert holds.get(state, ("JUMPERS", "o1")) == held
    assert holds.has(state, ("JUMPERS", "o1")) and not holds.has(state, ("JUMPERS", "o2"))
    # The persisted layout: what earlier versions wrote by hand.
    assert state.get(b"hold/JUMPERS/o1") == held.SerializeToString()
    holds.delete(state, ("JUMPERS", "o1"))
    assert holds.get(state, ("JUMPERS", "o1")) is None


def test_stores_of_different_names_do_not_see_each_other() -> None:
    state = partition_state()
    pending, done = Store("pending", STR, INT), Store("pend", STR, INT)

    pending.put(state, "o1", 1)
    done.put(state, "o1", 2)

    assert [*pending.scan(state)] == [("o1", 1)]
    assert [*done.scan(state)] == [("o1", 2)]


def test_a_scan_by_leading_parts_reads_only_their_keys_in_order() -> None:
    state = partition_state()
    counted = Store("counted", PartsCodec(2), INT)
    for customer, order, at in (("7", "b", 2), ("7", "a", 1), ("70", "c", 3), ("8", "d", 4)):
        counted.put(state, (customer, order), at)

    assert [*counted.scan(state, "7")] == [(("7", "a"), 1), (("7", "b"), 2)]
    assert len([*counted.scan(state)]) == 4
    with pytest.raises(TypeError):
        [*Store("plain", STR, INT).scan(state, "7")]


def test_a_store_name_is_one_word() -> None:
    with pytest.raises(ValueError):
        Store("a/b", STR, INT)
    with pytest.raises(ValueError):
        Store("", STR, INT)


# Timers


def test_timer_keys_sort_by_due_time_and_parse_back() -> None:
    keys = TimerKeys(b"due/")
    early, late = keys.key(999, b"x/y"), keys.key(1_000, b"a")

    assert early == b"due/000000000000999/x/y"
    assert early < late < keys.until(1_000)
    assert keys.parse(early) == (999, b"x/y")
    assert early < keys.until(999) <= late
    with pytest.raises(ValueError):
        keys.parse(b"due/12/x")
    with pytest.raises(ValueError):
        keys.key(-1, b"x")


def test_due_hands_out_what_is_due_earliest_first_and_removes_it() -> None:
    state = partition_state()
    timers: Timers[str] = Timers("due", STR)
    timers.schedule(state, 2_000, "late")
    timers.schedule(state, 1_000, "early")
    timers.schedule(state, 1_500, "middle")

    assert [*timers.due(state, 1_499)] == [(1_000, "early")]
    assert [*timers.due(state, 1_499)] == []
    assert [*timers.due(state, 5_000)] == [(1_500, "middle"), (2_000, "late")]
    assert state.scan(b"due/") == []


def test_a_cancelled_or_moved_timer_fires_only_where_it_is() -> None:
    state = partition_state()
    timers: Timers[tuple[str, ...]] = Timers("due", PartsCodec(2))
    timers.schedule(state, 1_000, ("42", "o1"))
    timers.schedule(state, 1_000, ("42", "o2"))
    timers.cancel(state, 1_000, ("42", "o1"))
    timers.move(state, 1_000, 3_000, ("42", "o2"))
    timers.move(state, None, 2_000, ("43", "o3"))

    assert [*timers.due(state, 2_500)] == [(2_000, ("43", "o3"))]
    assert [*timers.due(state, 3_000)] == [(3_000, ("42", "o2"))]
    # The persisted layout: what earlier versions wrote by hand.
    timers.schedule(state, 7, ("42", "o1"))
    assert state.scan(b"due/") == [(b"due/000000000000007/42/o1", b"")]


def test_timers_of_different_names_are_separate_indexes() -> None:
    state = partition_state()
    retries, expiry = Timers("retry", STR), Timers("due", STR)
    retries.schedule(state, 1, "r")
    expiry.schedule(state, 1, "e")

    assert [*expiry.due(state, 10)] == [(1, "e")]
    assert [*retries.due(state, 10)] == [(1, "r")]


# Processors: the base class and the decode path


class _Counter(Processor):
    name = "counter"
    inputs = ("in",)

    def process(self, record, state):  # type: ignore[no-untyped-def]
        yield from ()


def test_the_base_processor_is_stateless_and_punctuates_nothing() -> None:
    processor = _Counter()

    assert processor.stateful is False
    assert list(processor.punctuate(0, partition_state())) == []


def test_decode_turns_unreadable_values_into_poison_with_the_codec_reason() -> None:
    good = Record("in", 0, 0, b"k", state_pb2.Hold(quantity=1).SerializeToString(), 0)
    bad = Record("in", 0, 1, b"k", b"\xff\xff\xff", 0)

    assert decode(good, protobuf(state_pb2.Hold)).quantity == 1
    assert decode(Record("in", 0, 2, b"k", None, 0), protobuf(state_pb2.Hold)) == state_pb2.Hold()
    with pytest.raises(PoisonRecord, match=r"^not a Hold: "):
        decode(bad, protobuf(state_pb2.Hold))
    with pytest.raises(PoisonRecord, match="not UTF-8"):
        decode(bad, STR)


# A LevelDB database with the same timer layout


def test_a_key_value_db_writes_atomically_and_scans_up_to_a_bound(tmp_path: Path) -> None:
    keys = TimerKeys(b"due/")
    db = KeyValueDb(tmp_path / "db")
    try:
        db.write(puts={keys.key(5, b"a"): b"", keys.key(9, b"b"): b"", b"other": b"x"})
        db.write(puts={keys.key(6, b"c"): b""}, deletes=[keys.key(5, b"a")])

        assert [keys.parse(k) for k, _ in db.scan(keys.prefix, until=keys.until(8))] == [(6, b"c")]
        assert len(list(db.scan(keys.prefix))) == 2
        assert db.get(b"other") == b"x" and db.get(keys.key(5, b"a")) is None
    finally:
        db.close()
