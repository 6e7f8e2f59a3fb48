"""The benchmark harness runs: tiny versions of its phases complete and
their report renders. No speed is asserted here; figures live in bench/."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bench import __main__ as bench_main
from bench import e2e, lists, raw, report, stages
from bench.common import Log

pytestmark = pytest.mark.kafka


def test_a_tiny_run_of_each_cheap_phase_completes(bootstrap: str, tmp_path: Path) -> None:
    log = Log()
    results = {
        "mode": "tiny",
        "raw": raw.run_raw(bootstrap, 200, log),
        "stages": {
            name: stages.run_stage(name, bootstrap, tmp_path, 200, log) for name in ("order-details", "projector")
        },
        "ceiling": e2e.generator_ceiling([50], 1, log),
    }

    assert {r["records"] for r in results["raw"].values()} == {200}
    assert all(s["orders"] == 200 and s["orders_per_s"] > 0 for s in results["stages"].values())
    assert results["ceiling"]["steps"][0]["sent"] == 50
    rendered = report.render(results, "")
    assert "## Per stage" in rendered and "## The limit" in rendered


def test_a_tiny_lists_run_measures_every_query(bootstrap: str, tmp_path: Path) -> None:
    measured = lists.run_lists(bootstrap, tmp_path, 120, Log())

    assert measured["orders"] == 120
    by_name = {q["query"]: q for q in measured["queries"]}
    assert set(by_name) == {q.name for q in lists.QUERIES}
    assert by_name["no filter, first page"]["matching"] == 120
    assert by_name["no filter, first page"]["pages"] == 3  # 50 a page
    assert by_name["no filter, deep page"]["page"] == 3
    assert by_name["state FAILED, first page"]["matching"] == 12  # one in ten, unstocked
    assert all(q["latency_ms"]["count"] == lists.REPEATS for q in measured["queries"])
    rendered = report.render({"mode": "tiny", "lists": measured | {"command": "python -m bench --only lists"}}, "")
    assert "## Lists: ListOrders" in rendered


def test_a_tiny_run_sums_up_the_cost_per_order(bootstrap: str, tmp_path: Path) -> None:
    path = tmp_path / "results-tiny.json"
    args = argparse.Namespace(max_load=float("inf"), stages=None, list_orders=None)
    results = bench_main.run(bench_main.TINY, ("ceiling", "e2e", "scale"), args, 0, {}, path, bootstrap=bootstrap)

    summary = json.loads(path.read_text())["summary"]
    assert set(summary) >= {
        "e2e_sustained_per_s",
        "ceiling_per_s",
        "p99_ms_at_300",
        "p50_ms_at_50",
        "cpu_ms_per_order_at_200",
        "overload_done_per_s_1_instance",
        "overload_done_per_s_2_instances",
        "process_restarts_under_overload",
        "idle_cores",
    }
    assert all(value is None or isinstance(value, (int, float)) for value in summary.values()), summary
    # What the tiny mode measures; its sweep offers none of the rates judged (50, 200, 300/s).
    measured = (
        "overload_done_per_s_1_instance",
        "overload_done_per_s_2_instances",
        "process_restarts_under_overload",
        "idle_cores",
    )
    assert all(isinstance(summary[key], (int, float)) for key in measured), summary
    assert "## Cost per order (issue 13)" in report.render(results, "")
