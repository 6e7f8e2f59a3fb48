"""The benchmark report's arithmetic: percentiles, RSS extrapolation, targets."""

from __future__ import annotations

import math

from bench.common import percentile, summary_ms
from bench.report import render, rss_at, targets


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 99.9) == 100.0
    assert math.isnan(percentile([], 50))


def test_an_unanswered_order_makes_the_tail_infinite() -> None:
    summary = summary_ms([0.010] * 99 + [math.inf])
    assert summary["p50"] == 10.0
    assert summary["p99.9"] == math.inf


def test_rss_after_a_million_orders_is_extrapolated_from_the_second_half() -> None:
    stage = {
        "orders": 1000,
        "records": 2000,
        "rss_mib": 60.0,
        # 1 MiB more per 1000 records in the second half.
        "rss_samples": [[0, 50.0], [500, 55.0], [1000, 58.0], [2000, 59.0]],
    }
    value, extrapolated = rss_at(stage, 1_000_000)
    assert extrapolated
    assert value == 60.0 + (1 / 1000) * 2 * 999_000


def test_a_long_enough_drain_is_measured_not_extrapolated() -> None:
    stage = {"orders": 1_000_000, "records": 1_000_000, "rss_mib": 70.0, "rss_samples": []}
    assert rss_at(stage) == (70.0, False)


def test_targets_are_judged_from_the_figures() -> None:
    step = {
        "offered_rate": 500,
        "latency_ms": {"p50": 20.0, "p95": 50.0, "p99": 150.0, "p99.9": 300.0, "max": 400.0, "count": 10},
        "place_ms": {"p99": 10.0},
        "lateness_ms": {"p99": 1.0},
        "errors": {},
        "sent": 10,
        "completed": 10,
        "throughput": 500.0,
        "sustained": True,
    }
    results = {"mode": "quick", "e2e": {"steps": [step], "max_sustained_rate": 500, "duration_s": 10, "warmup_s": 2}}
    rows = {row[0]: row[2] for row in targets(results)}
    assert rows["e2e ≥ 2,000 orders/s sustained"] is False
    assert rows["at 500/s p99 < 200 ms"] is True
    assert rows["at 50/s p50 < 50 ms"] is None
    assert "## End to end" in render(results, "")
