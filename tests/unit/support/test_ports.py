"""The test harness's port blocks: a platform takes two blocks (gRPC ports,
metrics ports) before any of its services binds one, so the second must not
reuse the first."""

from __future__ import annotations

import random

import pytest

from tests.support.ports import free_port_block


def test_blocks_handed_out_never_overlap_even_from_the_same_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "randrange", lambda *_: 27000)

    first = free_port_block(2)
    second = free_port_block(10)

    assert set(range(first, first + 2)).isdisjoint(range(second, second + 10))
