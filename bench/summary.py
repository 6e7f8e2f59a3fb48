"""The figures issue 13 ("cost per order") is judged by, from a run's results:
results["summary"] in bench/out/results-<mode>.json, and the first table of
bench/RESULTS.md."""

from __future__ import annotations

from bench.common import platform_cores


def step_at(results: dict, rate: float) -> dict | None:
    """The e2e sweep's step at this offered rate, if the sweep ran it."""
    for step in (results.get("e2e") or {}).get("steps", []):
        if step["offered_rate"] == rate:
            return step
    return None


def cpu_ms_per_order(step: dict) -> float | None:
    """CPU milliseconds the platform (every service process and the broker;
    not the load generator, nor the harness) used per completed order: its
    cores over the step, over the orders completed per second."""
    if not step.get("cores_by_process") or not step["throughput"]:
        return None
    return round(platform_cores(step["cores_by_process"]) * 1000 / step["throughput"], 2)


def summarize(results: dict) -> dict[str, float | None]:
    e2e = results.get("e2e") or {}
    scale = results.get("scale") or {}
    overload = scale.get("runs") or {}
    sustained = e2e.get("max_sustained_rate")
    ceiling = (results.get("ceiling") or {}).get("ceiling_rate")
    at_300, at_50, at_200 = step_at(results, 300), step_at(results, 50), step_at(results, 200)
    restarts = [run.get("restarts") for run in overload.values()]
    return {
        "e2e_sustained_per_s": sustained,
        "ceiling_per_s": ceiling,
        "sustained_vs_ceiling": round(sustained / ceiling, 2) if sustained is not None and ceiling else None,
        "p99_ms_at_300": None if at_300 is None else at_300["latency_ms"]["p99"],
        "p50_ms_at_50": None if at_50 is None else at_50["latency_ms"]["p50"],
        "cpu_ms_per_order_at_200": None if at_200 is None else cpu_ms_per_order(at_200),
        "overload_offered_per_s": scale.get("offered_rate"),
        "overload_done_per_s_1_instance": (overload.get("1") or {}).get("throughput"),
        "overload_done_per_s_2_instances": (overload.get("2") or {}).get("throughput"),
        # Runs from before restarts were counted have none.
        "process_restarts_under_overload": sum(restarts) if restarts and None not in restarts else None,
        "idle_cores": (e2e.get("idle") or {}).get("cores"),
        # Another measurement's, when it was made (results["quix"]).
        "fraud_vs_quixstreams": (results.get("quix") or {}).get("ratio"),
    }
