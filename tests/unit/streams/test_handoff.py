"""The bookkeeping of local hand-off: what to skip, and when not to hand off."""

from __future__ import annotations

from streams.handoff import MAX_PENDING, HandOffs, decode, encode
from streams.records import Output


def test_offsets_travel_as_ranges_and_foreign_metadata_means_none() -> None:
    assert encode([9, 5, 6, 7]) == "5-7,9"
    assert decode("5-7,9") == {5, 6, 7, 9}
    assert decode(encode(range(100, 250))) == set(range(100, 250))
    assert decode("") == set() and decode("written by another client") == set()


def _handoffs(committed: int = 10, metadata: str = "") -> HandOffs:
    handoffs = HandOffs(["in"], {"in": 1})
    handoffs.assigned({("in", 0): (committed, metadata)})
    return handoffs


def test_committed_skips_are_skipped_until_the_group_reads_past_them() -> None:
    handoffs = _handoffs(10, "8,12-13")  # 8 lies before the committed offset: done with

    assert [o for o in range(8, 15) if handoffs.skipped("in", 0, o)] == [12, 13]
    batch = handoffs.batch()
    offsets, metadata = handoffs.commit_plan({("in", 0): 13}, batch)
    assert metadata == {("in", 0): "13"}
    handoffs.committed_batch(offsets, batch, [], {0})
    assert not handoffs.skipped("in", 0, 12) and handoffs.skipped("in", 0, 13)


def test_an_own_output_is_handed_off_only_where_this_runner_owns_the_partition_and_knows_its_offset() -> None:
    output = Output("in", b"key", b"v", partition=0)
    assert _handoffs().batch().decide(output, owned={0}, last_round=False) == ("in", 0)
    assert _handoffs().batch().decide(output, owned={1}, last_round=False) is None
    assert _handoffs().batch().decide(output, owned={0}, last_round=True) is None
    assert _handoffs().batch().decide(Output("out", b"key", b"v"), owned={0}, last_round=False) is None
    never_committed = HandOffs(["in"], {"in": 1})
    never_committed.assigned({("in", 0): (-1001, "")})
    assert never_committed.batch().decide(output, owned={0}, last_round=False) is None


def test_once_an_own_output_goes_through_kafka_its_partition_takes_no_hand_off_until_read_past_it() -> None:
    handoffs = _handoffs(10)
    batch = handoffs.batch()
    output = Output("in", b"key", b"v", partition=0)
    for offset in range(MAX_PENDING):
        assert batch.decide(output, {0}, last_round=False) == ("in", 0)
        batch.delivered(("in", 0), 20 + offset)
    assert batch.decide(output, {0}, last_round=False) is None  # too many pending: through Kafka
    assert batch.decide(output, {0}, last_round=False) is None  # and the rest after it, in order
    offsets, _ = handoffs.commit_plan({}, batch)
    handoffs.committed_batch(offsets, batch, [("in", 0, 20 + MAX_PENDING)], {0})

    later = handoffs.batch()
    assert later.decide(output, {0}, last_round=False) is None
    read_past = handoffs.batch()
    handoffs.committed_batch({("in", 0): 21 + MAX_PENDING}, read_past, [], {0})
    assert handoffs.batch().decide(output, {0}, last_round=False) == ("in", 0)


def test_a_private_re_key_is_handed_off_without_a_committed_offset_and_leaves_nothing_to_skip() -> None:
    handoffs = HandOffs(["in", "rekeyed"], {"in": 1, "rekeyed": 1}, private=["rekeyed"])
    handoffs.assigned({("rekeyed", 0): (-1001, "")})
    batch = handoffs.batch()

    assert batch.decide(Output("rekeyed", b"key", b"v", partition=0), {0}, last_round=False) == ("rekeyed", 0)
    assert not batch.sending  # never produced: no offset to wait for
    assert batch.decide(Output("rekeyed", b"key", b"v", partition=0), {0}, last_round=True) is None
