"""`oms demo` against the SDK's fake server (oms_client.testing): the whole
story plays, every order ends as its kind and fate say, and the summary
counts them. tests/e2e/test_cli.py runs it against the platform."""

from __future__ import annotations

import asyncio
import io
import json
import random
from collections import Counter

from oms_client import _demo
from oms_client.cli import Output
from oms_client.testing import FakeOms
from oms_client.types import state_name

COUNT, SEED = 60, 3


def planned() -> list[_demo.Planned]:
    return _demo.plan(_demo.DemoConfig(target="", count=COUNT, seed=SEED), "x", random.Random(SEED))


def test_the_plan_has_every_kind_fate_and_level() -> None:
    orders = planned()
    assert {o.kind for o in orders} == {k for k, _ in _demo.MIX}
    assert {o.fate for o in orders if o.kind == _demo.GOOD} == {f for f, _ in _demo.FATES}
    assert all(o.fate == "" for o in orders if o.kind != _demo.GOOD)
    assert {level for _, level in _demo.customers_of(orders)} == set(_demo.LEVELS)


def test_the_demo_plays_the_whole_story_and_sums_it_up() -> None:
    out = io.StringIO()
    with FakeOms() as oms:
        config = _demo.DemoConfig(target=oms.target, rate=500, count=COUNT, seed=SEED, timeout=10)
        code = asyncio.run(_demo.run(config, Output(True, out)))
        customers = oms.state.customers
    assert code == 0
    summary = json.loads(out.getvalue().splitlines()[-1])
    orders = planned()
    expected = Counter(state_name(o.should_end) for o in orders if o.kind != _demo.REJECTED)
    assert summary["final_states"] == dict(expected)
    good = [o for o in orders if o.kind == _demo.GOOD]
    assert summary["shipped"] == sum(o.fate == _demo.SHIP for o in good)
    assert summary["cancelled"] == sum(o.fate == _demo.CANCEL for o in good)
    assert summary["paid"] == sum(o.fate in (_demo.SHIP, _demo.PAID) for o in good)
    assert (summary["unexpected"], summary["errors"]) == (0, 0)
    assert summary["customers"] == len(customers) == len(_demo.customers_of(orders))
    assert {c.level for c in customers.values()} == set(_demo.LEVELS)
    latency = summary["verdict_latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]


def test_the_text_summary_ends_with_final_states_and_latencies() -> None:
    out = io.StringIO()
    with FakeOms() as oms:
        config = _demo.DemoConfig(target=oms.target, rate=500, count=20, seed=SEED, timeout=10)
        assert asyncio.run(_demo.run(config, Output(False, out))) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("oms demo ") and "customers (every level)" in lines[0]
    assert lines[-3].startswith("done: placed ")
    assert " shipped " in lines[-3] and " cancelled " in lines[-3]
    assert lines[-2].startswith("final states: ")
    assert lines[-1].startswith("PlaceOrder latency p50 ")
