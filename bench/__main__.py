"""python -m bench [--quick] [--only PHASE,...]: run the benchmarks, write
bench/RESULTS.md and bench/latency.png.

Phases, in order: raw (the broker and client alone), stages (each processor
draining a pre-filled topic), quix (the fraud check's drain against the same
check on quixstreams, in a venv of its own under bench/out/), soak (RSS
after a long drain), ceiling (the load generator against a trivial server),
e2e (the platform's CPU at idle, then an open-loop rate sweep through the
front door), scale (1 vs 2 instances per service, offered twice the rate
sustained), profile (py-spy of the stages and of the platform under load),
lists (ListOrders latency for one customer with 10,000 orders). Results
accumulate per mode in bench/out/results-<mode>.json, so one phase can be
run again alone; its "summary" holds issue 13's figures (bench/summary.py).
A run of
`--only lists` alone puts its section into bench/RESULTS.md and leaves the
rest of the file as it is.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import e2e, lists, profile, quix, raw, report, stages
from bench.common import REPO, Log, loadavg, machine_facts, set_wait_budget, wait_for_quiet
from bench.summary import summarize
from localkafka import KafkaCluster
from tests.support.ports import free_port_block

PHASES = ("raw", "stages", "quix", "soak", "ceiling", "e2e", "scale", "profile", "lists")
OUT = REPO / "bench" / "out"
# A stage's long drain stops here; its figures are then what it did so far.
SOAK_LIMIT_S = 600


@dataclass(frozen=True)
class Mode:
    name: str
    raw_records: int
    stage_orders: int
    soak_orders: int
    ceiling_rates: tuple[float, ...]
    ceiling_s: float
    rates: tuple[float, ...]
    step_s: float
    warmup_s: float
    # Load before the e2e sweep, not measured (e2e.warm_up).
    platform_warm_up_s: float
    # How long the e2e phase watches the platform's CPU with no load first.
    idle_s: float
    refine: bool
    scale_partitions: int
    scale_s: float
    profile_orders: int
    profile_s: int
    list_orders: int
    default_phases: tuple[str, ...]


QUICK = Mode(
    name="quick",
    raw_records=20_000,
    stage_orders=20_000,
    soak_orders=0,
    ceiling_rates=(1000, 2000, 4000),
    ceiling_s=4,
    # Overload is the scale phase's (twice the rate sustained): past 1000/s
    # the sweep would only add minutes.
    rates=(50, 200, 300, 500, 1000),
    step_s=10,
    warmup_s=2,
    platform_warm_up_s=15,
    idle_s=5,
    refine=False,
    scale_partitions=3,
    scale_s=10,
    profile_orders=20_000,
    profile_s=10,
    list_orders=2_000,
    default_phases=("raw", "stages", "quix", "ceiling", "e2e", "scale"),
)
FULL = Mode(
    name="full",
    raw_records=100_000,
    stage_orders=100_000,
    soak_orders=1_000_000,
    ceiling_rates=(1000, 1500, 2000, 3000),
    ceiling_s=10,
    rates=(50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000),
    step_s=60,
    warmup_s=5,
    platform_warm_up_s=60,
    idle_s=20,
    refine=True,
    scale_partitions=6,
    scale_s=30,
    profile_orders=50_000,
    profile_s=20,
    list_orders=10_000,
    default_phases=PHASES,
)
# For the smoke test and for debugging the harness: every phase, tiny; its
# report goes to bench/out/, never to bench/RESULTS.md.
TINY = Mode(
    name="tiny",
    raw_records=1000,
    stage_orders=1000,
    soak_orders=2000,
    ceiling_rates=(100,),
    ceiling_s=2,
    rates=(10, 30),
    step_s=3,
    warmup_s=0.5,
    platform_warm_up_s=1,
    idle_s=2,
    refine=False,
    scale_partitions=3,
    scale_s=3,
    profile_orders=1000,
    profile_s=3,
    list_orders=200,
    default_phases=PHASES,
)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the short version (under 5 minutes)")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", help=f"comma-separated phases of {', '.join(PHASES)}")
    parser.add_argument(
        "--max-load",
        type=float,
        default=2.0,
        help="before each phase, wait for a quiet machine: a 1-minute load average (less this run's own running processes) below this, and other processes using under half a core",
    )
    parser.add_argument(
        "--wait-load-s", type=float, help="how long to wait for it at most each time (default: 0 quick, 300 full)"
    )
    parser.add_argument(
        "--wait-budget-s", type=float, default=1200, help="how long to wait for quiet in all (default 1200)"
    )
    parser.add_argument("--stages", help="comma-separated stages (default: all)")
    parser.add_argument(
        "--list-orders",
        type=int,
        help="orders of the one customer the lists phase lists (default: 10,000; 2,000 quick)",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite RESULTS.md and the plot from the saved results"
    )
    args = parser.parse_args()
    mode = TINY if args.tiny else QUICK if args.quick else FULL
    phases = tuple(args.only.split(",")) if args.only else mode.default_phases
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases {sorted(unknown)}")
    wait_s = args.wait_load_s if args.wait_load_s is not None else (300 if mode is FULL else 0)
    set_wait_budget(args.wait_budget_s)
    OUT.mkdir(parents=True, exist_ok=True)
    results_path = OUT / f"results-{mode.name}.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    if not args.report_only:
        results = run(mode, phases, args, wait_s, results, results_path)
    folder = OUT if mode is TINY else REPO / "bench"
    if phases == ("lists",) and (folder / "RESULTS.md").exists():
        report.write_lists(results, folder)
    else:
        report.write(results, folder)
    return 0


def run(
    mode: Mode,
    phases: tuple[str, ...],
    args: argparse.Namespace,
    wait_s: float,
    results: dict,
    path: Path,
    bootstrap: str | None = None,
) -> dict:
    """Runs the phases on a broker of its own, or on `bootstrap`'s (the smoke test's)."""
    log = Log()
    began = time.monotonic()
    results["mode"] = mode.name
    results["machine"] = machine_facts()
    results["started_at"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    work = Path(tempfile.mkdtemp(prefix="oms-bench-"))
    selected = tuple(args.stages.split(",")) if args.stages else stages.STAGES

    def save() -> None:
        # Which run each phase's figures come from (phases can be rerun alone).
        runs = results.setdefault("phase_runs", {})
        for phase in phases:
            if phase in results or (phase == "profile" and "profiles" in results):
                runs[phase] = results["started_at"]
        path.write_text(json.dumps(results, indent=1, default=str))

    log(f"{mode.name} benchmark: phases {', '.join(phases)}; load average {loadavg():.2f}")
    kafka = None
    if bootstrap is None:
        kafka = KafkaCluster(brokers=1, port=free_port_block(2), data_dir=REPO / ".oms-data", num_partitions=3)
        kafka.start()
        bootstrap = kafka.bootstrap_servers
    log(f"Kafka at {bootstrap}")
    try:
        if "raw" in phases:
            wait_for_quiet(args.max_load, wait_s, log)
            results["raw"] = raw.run_raw(bootstrap, mode.raw_records, log)
            save()
        if "stages" in phases:
            results.setdefault("stages", {})
            for stage in selected:
                wait_for_quiet(args.max_load, wait_s, log)
                results["stages"][stage] = stages.run_stage(stage, bootstrap, work, mode.stage_orders, log)
                save()
        if "quix" in phases:
            quick = " --quick" if mode.name == "quick" else ""
            results["quix"] = quix.compare(
                bootstrap,
                work,
                mode.stage_orders,
                log,
                settle=lambda: wait_for_quiet(args.max_load, wait_s, log),
                command=f"python -m bench{quick} --only quix",
            )
            save()
        if "soak" in phases and mode.soak_orders:
            results.setdefault("soak", {})
            for stage in selected:
                wait_for_quiet(args.max_load, wait_s, log)
                results["soak"][stage] = stages.run_stage(
                    stage, bootstrap, work, mode.soak_orders, log, timeout_s=SOAK_LIMIT_S
                )
                save()
        if "ceiling" in phases:
            wait_for_quiet(args.max_load, wait_s, log)
            log("generator ceiling against a trivial front door")
            results["ceiling"] = e2e.generator_ceiling(mode.ceiling_rates, mode.ceiling_s, log)
            save()
        one = None
        if "e2e" in phases:
            wait_for_quiet(args.max_load, wait_s, log)
            one = e2e.start_platform(bootstrap, work, instances=1, partitions=3, log=log)
            idle = e2e.idle(one, mode.idle_s, log)
            e2e.warm_up(one, mode.platform_warm_up_s, log)
            log("open-loop rate sweep")
            results["e2e"] = e2e.sweep(
                one, mode.rates, mode.step_s, mode.warmup_s, log, args.max_load, wait_s, mode.refine
            ) | {"idle": idle}
            save()
        reuse = one is not None and mode.scale_partitions == 3 and "scale" in phases
        if one is not None and not reuse:
            one.stop()
        if "scale" in phases:
            results["scale"] = scale(
                mode, bootstrap, work, log, args.max_load, wait_s, results, reuse=one if reuse else None
            )
            save()
        if reuse:
            one.stop()
        if "profile" in phases and profile.available():
            results["profiles"] = profiles(mode, bootstrap, work, log, selected, results)
            save()
        if "lists" in phases:
            wait_for_quiet(args.max_load, wait_s, log)
            orders = args.list_orders or mode.list_orders
            results["lists"] = lists.run_lists(bootstrap, work, orders, log)
            quick = " --quick" if mode.name == "quick" else ""
            sized = f" --list-orders {orders}" if args.list_orders else ""
            results["lists"]["command"] = f"python -m bench{quick} --only lists{sized}"
            save()
    finally:
        if kafka is not None:
            kafka.stop()
            shutil.rmtree(kafka.home, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    results["summary"] = summarize(results)
    results["seconds"] = round(time.monotonic() - began)
    save()
    log(f"done in {time.monotonic() - began:.0f}s; results in {path}")
    return results


# Offered to overload the platform when no rate sustained end to end is known.
OVERLOAD_FALLBACK_RATE = 1000.0


def overload_rate(results: dict) -> float:
    """Twice the highest rate the e2e sweep sustained (this run's; with no
    e2e phase in it, the saved one of an earlier run): more than the
    platform takes, by as much whatever its capacity."""
    best = (results.get("e2e") or {}).get("max_sustained_rate")
    return 2.0 * best if best else OVERLOAD_FALLBACK_RATE


def scale(
    mode: Mode, bootstrap: str, work: Path, log: Log, max_load: float, wait_s: float, results: dict, reuse
) -> dict:  # type: ignore[no-untyped-def]
    rate = overload_rate(results)
    out: dict = {"offered_rate": rate, "partitions": mode.scale_partitions, "runs": {}}
    for instances in (1, 2):
        wait_for_quiet(max_load, wait_s, log)
        if instances == 1 and reuse is not None:
            platform, owned = reuse, False
            e2e.settle(platform, log)  # the sweep's last (failed) step leaves a backlog
        else:
            platform, owned = e2e.start_platform(bootstrap, work, instances, mode.scale_partitions, log), True
        log(f"saturation with {instances} instance(s) per service at {rate:.0f}/s offered")
        try:
            out["runs"][str(instances)] = e2e.saturate(platform, rate, mode.scale_s, mode.warmup_s, log)
        finally:
            if owned:
                platform.stop()
    return out


def profiles(mode: Mode, bootstrap: str, work: Path, log: Log, selected: tuple[str, ...], results: dict) -> dict:
    """Where the time goes: py-spy on each stage's drain, and on every
    service of the platform under a saturating load."""
    out: dict = {"stages": {}, "platform": {}}
    pdir = OUT / f"profiles-{mode.name}"
    pdir.mkdir(parents=True, exist_ok=True)
    for stage in selected:
        out["stages"][stage] = stages.run_stage(stage, bootstrap, work, mode.profile_orders, log, profile_dir=pdir)[
            "profile"
        ]
    # What ten times the records per transaction would give the lightest stages.
    out["what_if"] = {
        stage: stages.run_stage(stage, bootstrap, work, mode.stage_orders, log, max_batch=10_000)
        for stage in ("order-details", "fraud")
        if stage in selected
    }
    platform = e2e.start_platform(bootstrap, work, 1, 3, log)
    try:
        rate = overload_rate(results)
        recorders = {
            name: profile.start(pid, pdir / f"platform-{name}.txt", duration_s=mode.profile_s)
            for name, pid in platform.supervisor.pids().items()
        }
        log(f"profiling every service at {rate:.0f}/s offered for {mode.profile_s}s")
        out["load"] = e2e.saturate(platform, rate, mode.profile_s + 2, 1, log)
        for name, recorder in recorders.items():
            profile.stop(recorder, timeout_s=60)
            out["platform"][name] = profile.top_frames(pdir / f"platform-{name}.txt")
    finally:
        platform.stop()
    return out


if __name__ == "__main__":
    raise SystemExit(main())
