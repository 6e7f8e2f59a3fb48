"""The gateway's view on a damaged LevelDB: moved aside, and empty with no
stored position, so the projector reads its topics again from offset 0."""

from __future__ import annotations

from pathlib import Path

from gateway.adapters.view import View


def test_a_corrupt_view_starts_empty_without_positions_so_it_is_rebuilt_from_offset_0(tmp_path: Path) -> None:
    view = View(tmp_path / "view")
    view.apply({b"some-key": b"value"}, {("orders", 0): 42})
    view.close()
    (tmp_path / "view" / "CURRENT").write_text("garbage\n")

    reopened = View(tmp_path / "view")
    try:
        assert reopened.position("orders", 0) is None
        assert reopened.get_raw(b"some-key") is None
    finally:
        reopened.close()
    assert list(tmp_path.glob("view.broken-*"))
