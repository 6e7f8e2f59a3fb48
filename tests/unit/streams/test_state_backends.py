"""One contract for every StateBackend: the in-memory one and LevelDB."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.leveldb import LevelDbBackend
from streams.state import MemoryBackend, StateBackend


@pytest.fixture(params=["memory", "leveldb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateBackend]:
    store: StateBackend = MemoryBackend() if request.param == "memory" else LevelDbBackend(tmp_path / "db")
    yield store
    store.close()


def test_changes_and_checkpoints_apply_together(backend: StateBackend) -> None:
    backend.apply({(0, b"a"): b"1", (1, b"a"): b"2"}, {0: 7})

    assert backend.get(0, b"a") == b"1"
    assert backend.get(1, b"a") == b"2"
    assert backend.checkpoint(0) == 7
    assert backend.checkpoint(1) == 0


def test_none_deletes(backend: StateBackend) -> None:
    backend.apply({(0, b"a"): b"1"}, {})
    backend.apply({(0, b"a"): None}, {})
    assert backend.get(0, b"a") is None


def test_scan_stays_in_its_partition_and_prefix(backend: StateBackend) -> None:
    backend.apply({(0, b"k/2"): b"2", (0, b"k/1"): b"1", (0, b"x/1"): b"x", (1, b"k/3"): b"3"}, {})
    assert list(backend.scan(0, b"k/")) == [(b"k/1", b"1"), (b"k/2", b"2")]


def test_a_checkpoint_remembers_when_it_was_written(backend: StateBackend) -> None:
    before = int(time.time() * 1000)
    backend.apply({}, {2: 10})
    assert before <= backend.checkpointed_at_ms(2) <= int(time.time() * 1000)
    assert backend.checkpointed_at_ms(3) == 0


def test_clear_forgets_one_partition_only(backend: StateBackend) -> None:
    backend.apply({(0, b"a"): b"1", (1, b"a"): b"2"}, {0: 5, 1: 6})

    backend.clear(0)

    assert backend.get(0, b"a") is None and backend.checkpoint(0) == 0
    assert backend.get(1, b"a") == b"2" and backend.checkpoint(1) == 6


def test_scan_until_stops_below_the_bound(backend: StateBackend) -> None:
    backend.apply({(0, b"due/001/a"): b"", (0, b"due/002/b"): b"", (0, b"due/003/c"): b"", (0, b"dz"): b""}, {})
    assert [k for k, _ in backend.scan(0, b"due/", until=b"due/003")] == [b"due/001/a", b"due/002/b"]


def corrupt(path: Path) -> None:
    """Garbage where LevelDB keeps the name of its MANIFEST, and in the MANIFEST."""
    (path / "CURRENT").write_text("garbage\n")
    for manifest in path.glob("MANIFEST-*"):
        manifest.write_bytes(b"\x01" * 100)


def test_a_corrupt_leveldb_is_moved_aside_and_starts_empty_for_a_restore_from_offset_0(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = LevelDbBackend(tmp_path / "db")
    store.apply({(0, b"a"): b"1"}, {0: 7})
    store.close()
    corrupt(tmp_path / "db")

    reopened = LevelDbBackend(tmp_path / "db")
    try:
        assert reopened.get(0, b"a") is None and reopened.checkpoint(0) == 0
        reopened.apply({(0, b"b"): b"2"}, {0: 1})
        assert reopened.get(0, b"b") == b"2"
    finally:
        reopened.close()

    (aside,) = tmp_path.glob("db.broken-*")
    assert (aside / "CURRENT").read_text() == "garbage\n"
    (line,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "will not open" in line.getMessage() and str(aside) in line.getMessage()
    assert "changelog" in line.getMessage()


def test_a_leveldb_locked_by_another_process_is_not_moved_aside(tmp_path: Path) -> None:
    holder = LevelDbBackend(tmp_path / "db")
    try:
        with pytest.raises(Exception, match="lock"):
            LevelDbBackend(tmp_path / "db")
        assert list(tmp_path.glob("db.broken-*")) == []
    finally:
        holder.close()
