"""State as processors see it: per-record staging over a batch over a backend."""

from __future__ import annotations

from streams.state import BatchState, MemoryBackend


def committed_backend(partition: int = 0, **entries: bytes) -> MemoryBackend:
    backend = MemoryBackend()
    backend.apply({(partition, k.encode()): v for k, v in entries.items()}, {})
    return backend


class TestMemoryBackend:
    def test_get_returns_what_was_applied_per_partition(self) -> None:
        backend = MemoryBackend()
        backend.apply({(0, b"k"): b"zero", (1, b"k"): b"one"}, {})

        assert backend.get(0, b"k") == b"zero"
        assert backend.get(1, b"k") == b"one"
        assert backend.get(2, b"k") is None

    def test_none_deletes_and_deleting_a_missing_key_is_harmless(self) -> None:
        backend = committed_backend(k=b"v")

        backend.apply({(0, b"k"): None, (0, b"never"): None}, {})

        assert backend.get(0, b"k") is None
        assert list(backend.scan(0, b"")) == []

    def test_scan_is_sorted_filtered_by_prefix_and_partition(self) -> None:
        backend = MemoryBackend()
        backend.apply({(0, b"a/2"): b"2", (0, b"a/1"): b"1", (0, b"b/1"): b"x", (1, b"a/0"): b"other"}, {})

        assert list(backend.scan(0, b"a/")) == [(b"a/1", b"1"), (b"a/2", b"2")]

    def test_checkpoints_default_to_zero_and_keep_the_latest(self) -> None:
        backend = MemoryBackend()
        assert backend.checkpoint(0) == 0

        backend.apply({}, {0: 5, 1: 7})
        backend.apply({}, {0: 9})

        assert (backend.checkpoint(0), backend.checkpoint(1)) == (9, 7)


class TestPartitionState:
    def test_staged_writes_are_read_back_before_commit(self) -> None:
        state = BatchState(MemoryBackend()).partition(0)

        state.put(b"k", b"v")

        assert state.get(b"k") == b"v"

    def test_rollback_leaves_nothing_behind(self) -> None:
        batch = BatchState(committed_backend(kept=b"old"))
        state = batch.partition(0)
        state.put(b"new", b"v")
        state.put(b"kept", b"overwritten")
        state.delete(b"kept")

        state.rollback()

        assert batch.changes == {}
        assert state.get(b"new") is None
        assert state.get(b"kept") == b"old"
        assert state.scan(b"") == [(b"kept", b"old")]

    def test_commit_moves_staged_writes_into_the_batch_not_the_backend(self) -> None:
        backend = MemoryBackend()
        batch = BatchState(backend)
        state = batch.partition(3)
        state.put(b"k", b"v")
        state.delete(b"gone")

        state.commit()

        assert batch.changes == {(3, b"k"): b"v", (3, b"gone"): None}
        assert backend.get(3, b"k") is None
        assert batch.partition(3).get(b"k") == b"v"

    def test_a_rollback_after_a_commit_keeps_what_was_committed(self) -> None:
        batch = BatchState(MemoryBackend())
        state = batch.partition(0)
        state.put(b"first", b"1")
        state.commit()
        state.put(b"second", b"2")

        state.rollback()

        assert state.get(b"first") == b"1"
        assert state.get(b"second") is None

    def test_partitions_do_not_see_each_other(self) -> None:
        batch = BatchState(committed_backend(partition=1, k=b"p1"))
        zero, one = batch.partition(0), batch.partition(1)
        zero.put(b"mine", b"p0")
        zero.commit()

        assert zero.get(b"k") is None
        assert one.get(b"mine") is None
        assert one.scan(b"") == [(b"k", b"p1")]

    def test_reads_prefer_staged_over_batch_over_backend(self) -> None:
        batch = BatchState(committed_backend(k=b"backend"))
        state = batch.partition(0)
        assert state.get(b"k") == b"backend"

        state.put(b"k", b"batch")
        state.commit()
        assert state.get(b"k") == b"batch"

        state.put(b"k", b"staged")
        assert state.get(b"k") == b"staged"

    def test_a_delete_hides_a_committed_value_from_get(self) -> None:
        state = BatchState(committed_backend(k=b"v")).partition(0)

        state.delete(b"k")
        assert state.get(b"k") is None
        state.commit()
        assert state.get(b"k") is None

    def test_scan_merges_backend_batch_and_staged_in_key_order_and_hides_deletes(self) -> None:
        batch = BatchState(committed_backend(**{"p/a": b"backend", "p/b": b"backend", "p/c": b"backend", "q/x": b"x"}))
        state = batch.partition(0)
        state.put(b"p/b", b"batch")
        state.delete(b"p/c")
        state.put(b"p/d", b"batch")
        state.commit()
        state.put(b"p/a", b"staged")
        state.delete(b"p/d")
        state.put(b"p/0", b"staged")

        assert state.scan(b"p/") == [(b"p/0", b"staged"), (b"p/a", b"staged"), (b"p/b", b"batch")]

    def test_a_value_deleted_then_rewritten_is_visible_again(self) -> None:
        state = BatchState(committed_backend(k=b"old")).partition(0)
        state.delete(b"k")
        state.commit()

        state.put(b"k", b"new")

        assert state.get(b"k") == b"new"
        assert state.scan(b"k") == [(b"k", b"new")]

    def test_discarding_a_batch_drops_its_committed_records(self) -> None:
        batch = BatchState(committed_backend(k=b"old"))
        state = batch.partition(0)
        state.put(b"k", b"new")
        state.commit()

        batch.discard()

        assert batch.partition(0).get(b"k") == b"old"

    def test_applying_the_batch_changes_makes_them_durable(self) -> None:
        backend = committed_backend(gone=b"x")
        batch = BatchState(backend)
        state = batch.partition(0)
        state.put(b"k", b"v")
        state.delete(b"gone")
        state.commit()

        backend.apply(batch.changes, {0: 42})

        assert BatchState(backend).partition(0).scan(b"") == [(b"k", b"v")]
        assert backend.checkpoint(0) == 42


def test_scan_until_bounds_pending_and_committed_entries() -> None:
    from streams.state import BatchState, MemoryBackend

    backend = MemoryBackend()
    backend.apply({(0, b"due/1"): b"", (0, b"due/5"): b""}, {})
    state = BatchState(backend).partition(0)
    state.put(b"due/2", b"")
    state.put(b"due/6", b"")

    assert [k for k, _ in state.scan(b"due/", until=b"due/3")] == [b"due/1", b"due/2"]
