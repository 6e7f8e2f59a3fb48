"""The benchmark report's arithmetic: percentiles, RSS extrapolation, targets,
the cost per order."""

from __future__ import annotations

import math

from bench.common import percentile, summary_ms
from bench.report import cost_per_order, lists_section, render, rss_at, splice, targets
from bench.summary import summarize


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


def test_memory_is_judged_when_measured_after_a_million_orders_not_when_extrapolated() -> None:
    short = {"orders": 20_000, "records": 20_000, "rss_mib": 80.0, "peak_rss_mib": 90.0}
    short["rss_samples"] = [[0, 50.0], [10_000, 60.0], [15_000, 70.0], [20_000, 80.0]]  # 400+ MiB at 1M
    soaked = {"orders": 1_000_000, "records": 1_000_000, "rss_mib": 140.0, "peak_rss_mib": 170.0, "rss_samples": []}
    grown = {**soaked, "rss_mib": 160.0}

    def judged(stages: dict) -> dict:
        return {row[0]: row[2] for row in targets({"mode": "quick", "stages": stages})}

    assert judged({"aggregator": short})["aggregator: RSS < 150 MiB after 1,000,000 orders"] is None
    assert judged({"aggregator": soaked})["aggregator: RSS < 150 MiB after 1,000,000 orders"] is True
    assert judged({"aggregator": grown})["aggregator: RSS < 150 MiB after 1,000,000 orders"] is False


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


def _lists_results() -> dict:
    query = {
        "query": "no filter, deep page",
        "page_size": 50,
        "matching": 10_000,
        "pages": 200,
        "page": 151,
        "latency_ms": {"p50": 3.25, "p99": 9.5},
        "walk_ms": {"p50": 3.0, "p99": 8.0},
        "walk_s": 0.7,
    }
    lists = {"orders": 10_000, "instances": 1, "partitions": 3, "queries": [query]}
    return {"lists": lists | {"command": "python -m bench --only lists", "place_s": 80.0, "place_rate": 125.0}}


def test_the_lists_section_names_each_query_its_page_and_its_command() -> None:
    rendered = render({"mode": "full", **_lists_results()}, "")
    assert "## Lists: ListOrders for one customer with many orders" in rendered
    assert "| no filter, deep page | 50 | 10,000 | 151 of 200 | 3.2 | 9.5 |" in rendered
    assert "`python -m bench --only lists`" in rendered


def test_a_lists_run_alone_replaces_only_its_own_section() -> None:
    section = lists_section(_lists_results())
    before = (
        "# Benchmark results\n\n## Scale\n\nkept\n\n## What limits each figure, and what would lift it\n\nanalysis\n"
    )
    once = splice(before, section)
    assert once.index("## Scale") < once.index(section[0]) < once.index("## What limits each figure")
    assert "kept" in once and "analysis" in once
    again = splice(once, lists_section(_lists_results() | {"lists": _lists_results()["lists"] | {"orders": 5}}))
    assert again.count(section[0]) == 1
    assert "One customer with 5 orders" in again and "with 10,000 orders" not in again
    assert "kept" in again and "analysis" in again


def _cost_results() -> dict:
    def step(rate: float, p50: float, p99: float, throughput: float, cores: dict[str, float]) -> dict:
        latency = {"p50": p50, "p95": p99, "p99": p99, "p99.9": p99, "max": p99, "count": 10}
        return {
            "offered_rate": rate,
            "latency_ms": latency,
            "place_ms": {"p99": 1.0},
            "lateness_ms": {"p99": 1.0},
            "errors": {},
            "sent": 10,
            "completed": 10,
            "throughput": throughput,
            "sustained": True,
            "cores_by_process": cores,
            "cores_ours": sum(cores.values()),
            "cores_others": 0.0,
        }

    platform = {"kafka broker (JVM)": 0.2, "gateway": 0.15, "pipeline": 0.05}
    around = {"load generator": 0.3, "bench": 0.1}
    steps = [
        step(50, 20.0, 40.0, 50.0, platform),
        step(200, 30.0, 90.0, 200.0, platform | around),
        step(300, 40.0, 200.0, 300.0, platform),
    ]
    e2e = {"steps": steps, "max_sustained_rate": 300, "duration_s": 10, "warmup_s": 2, "idle": {"cores": 0.08}}
    scale = {
        "offered_rate": 600.0,
        "partitions": 3,
        "runs": {
            n: step(600, 900.0, 2000.0, done, platform) | {"restarts": restarts}
            for n, done, restarts in (("1", 350.0, 0), ("2", 280.0, 1))
        },
    }
    return {"mode": "quick", "ceiling": {"ceiling_rate": 1000, "steps": [], "servers": 2}, "e2e": e2e, "scale": scale}


def test_the_cost_per_order_is_the_platforms_cpu_only() -> None:
    summary = summarize(_cost_results())
    # 0.4 cores of the broker and services over 200 orders a second; the load
    # generator and the harness are not the platform's.
    assert summary["cpu_ms_per_order_at_200"] == 2.0
    assert summary["sustained_vs_ceiling"] == 0.3
    assert (summary["p99_ms_at_300"], summary["p50_ms_at_50"]) == (200.0, 20.0)
    assert (summary["overload_done_per_s_1_instance"], summary["overload_done_per_s_2_instances"]) == (350.0, 280.0)
    assert summary["process_restarts_under_overload"] == 1
    assert summary["idle_cores"] == 0.08
    assert summary["fraud_vs_quixstreams"] is None


def test_the_cost_per_order_table_judges_each_figure_against_its_goal() -> None:
    results = _cost_results()
    rows = {row[0]: row for row in cost_per_order(results)}
    assert rows["CPU ms per order at 200/s"][2:5] == ["2.00", "≤ 2", "met"]
    assert rows["done/s under overload, 1 instance per service"][2:5] == [
        "350.0 at 600 offered",
        "≥ sustained (300)",
        "met",
    ]
    assert rows["done/s under overload, 2 instances per service"][4] == "**missed**"
    assert rows["service restarts under overload (1 and 2 instances)"][4] == "**missed**"
    assert rows["fraud check vs Quix Streams, ×"][2:] == ["–", "≥ 2", "–", "–"]
    with_quix = cost_per_order(results | {"quix": {"ratio": 2.5, "command": "python -m bench --only quix"}})
    assert with_quix[-1][2:] == ["2.5", "≥ 2", "met", "`python -m bench --only quix`"]
    rendered = render(results, "")
    assert rendered.index("## Cost per order (issue 13)") < rendered.index("## Machine")


def test_the_quix_comparison_is_a_target_and_a_section() -> None:
    run = {"orders": 1000, "orders_per_s": 500.0, "records_per_s": 1000.0, "committed_batches": 3, "startup_s": 1.0}
    versus = {
        "orders": 1000,
        "command": "python -m bench --only quix",
        "ours_per_s": 1500.0,
        "quix_per_s": 500.0,
        "ratio": 3.0,
        "quixstreams": "3.28.1",
        "rounds": {"ours": [1400.0, 1500.0], "quix": [500.0, 450.0]},
        "ours": run | {"orders_per_s": 1500.0},
        "quix": run | {"commit_interval_s": 0.25},
    }
    (target,) = (row for row in targets({"quix": versus}) if "quixstreams" in row[0])
    assert target[1].startswith("3.00×") and target[2] is True
    rendered = render({"mode": "full", "quix": versus}, "")
    assert "## Against quixstreams" in rendered and "1,400 / 1,500" in rendered

    failed = {"orders": 1000, "command": "python -m bench --only quix", "error": "pip install failed: no network"}
    (target,) = (row for row in targets({"quix": failed}) if "quixstreams" in row[0])
    assert target[2] is None and "no network" in target[1]
    assert "Not measured: pip install failed" in render({"mode": "full", "quix": failed}, "")
