"""Per-stage throughput: one processor alone drains a pre-filled topic.

The orchestrating side (`run_stage`) creates a namespace of its own, fills
its topics and starts the stage as a subprocess (`python -m bench.stages`),
which runs the production code path: `streams.service.build_runner` with
exactly-once transactions and LevelDB state, or the gateway's projector with
its LevelDB view. The subprocess times the drain from its first record to
the commit of its last, samples its own RSS and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from bench import profile as profiling
from bench import workload
from bench.common import CpuWatch, Log, loadavg, memory_mib, run_json
from streams.kafka import partition_count
from streams.records import Output, Record
from streams.service import limit_malloc_arenas
from streams.state import PartitionState
from topology.config import Config
from topology.service import create_topics
from topology.topics import Topics

STAGES = ("order-details", "fraud", "inventory", "aggregator", "projector")
# The aggregator must not time out orders whose checks are still in the backlog.
DRAIN_VALIDATION_TIMEOUT_MS = 3_600_000
# The functions whose stacks are a stage's work, for its profile.
WORK_LOOPS = ("ProcessorRunner.step", "Projector._loop")


# What each stage's input holds --------------------------------------------------
def prefill(stage: str, bootstrap: str, topics: Topics, orders: int) -> dict[str, int]:
    """Fills the stage's input topics; returns the records each got."""
    events = workload.PlacedEvents()
    filled = {}
    if stage == "inventory":
        filled[topics.warehouse_inventory] = workload.produce_all(
            bootstrap, topics.warehouse_inventory, workload.stock_levels()
        )
    filled[topics.orders] = workload.produce_all(bootstrap, topics.orders, workload.placed(events, orders))
    if stage == "aggregator":
        filled[topics.order_validations] = workload.produce_all(
            bootstrap, topics.order_validations, workload.validations(events, orders)
        )
    return filled


def internal_inputs(stage: str, topics: Topics, orders: int) -> dict[str, int]:
    """Inputs the stage writes itself (re-keyed orders) and how many to expect."""
    if stage == "fraud":
        return {topics.fraud_check_orders: orders}
    if stage == "inventory":
        return {topics.inventory_check_orders: orders}
    return {}


# The subprocess -------------------------------------------------------------
class CountingProcessor:
    """A processor seen through a counter: it notes when every expected input
    record has been handed to the processor."""

    def __init__(self, inner, prefilled_ends: dict[tuple[str, int], int], internal: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
        self._inner = inner
        self.name = inner.name
        self.stateful = inner.stateful
        self.inputs = inner.inputs
        self._ends = prefilled_ends
        self._prefilled_topics = {t for t, _ in prefilled_ends}
        self._internal = internal
        self._expected = sum(prefilled_ends.values()) + sum(internal.values())
        self._remaining = self._expected
        self.records = 0
        self.first_at: float | None = None
        self.all_seen = threading.Event()
        self.on_all_seen: Callable[[], None] = lambda: None

    def process(self, record: Record, state: PartitionState) -> Iterable[Output]:
        if self.first_at is None:
            self.first_at = time.monotonic()
        self.records += 1
        if record.topic in self._prefilled_topics:
            if record.offset < self._ends.get((record.topic, record.partition), 0):
                self._seen_one()
        elif record.topic in self._internal:
            self._seen_one()
        return self._inner.process(record, state)

    def seen_fraction(self) -> float:
        return 1 - self._remaining / self._expected

    def _seen_one(self) -> None:
        self._remaining -= 1
        if self._remaining == 0:
            self.on_all_seen()
            self.all_seen.set()

    def punctuate(self, now_ms: int, state: PartitionState) -> Iterable[Output]:
        return self._inner.punctuate(now_ms, state)


def _ends(bootstrap: str, filled: dict[str, int]) -> dict[tuple[str, int], int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-ends-{uuid.uuid4().hex}"})
    try:
        ends = {}
        for topic in filled:
            for partition in range(partition_count(bootstrap, topic)):
                ends[(topic, partition)] = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)[
                    1
                ]
        return ends
    finally:
        consumer.close()


def _sample_memory(samples: list[tuple[int, float, float]], progress: Callable[[], int], stop: threading.Event) -> None:
    """(records so far, RSS MiB, seconds since start) every half second."""
    began = time.monotonic()
    while not stop.wait(0.5):
        rss = memory_mib()["rss_mib"]
        if rss is not None:
            samples.append((progress(), round(rss, 1), round(time.monotonic() - began, 2)))


def drive_processor(stage: str, settings: Config, filled: dict[str, int], orders: int, timeout_s: float) -> dict:
    from topology.registry import AGGREGATOR, CHECKS
    from topology.service import build_runner

    topics = Topics(settings.namespace)
    inner = (AGGREGATOR if stage == "aggregator" else CHECKS[stage]).build(settings)
    counted = CountingProcessor(
        inner, _ends(settings.bootstrap_servers, filled), internal_inputs(stage, topics, orders)
    )
    started = time.monotonic()
    runner = build_runner([counted], settings)  # type: ignore[list-item]
    reached_at_batches: list[int] = []
    counted.on_all_seen = lambda: reached_at_batches.append(runner.committed_batches)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), name="runner", daemon=True)
    samples: list[tuple[int, float, float]] = []
    sampler = threading.Thread(target=_sample_memory, args=(samples, lambda: counted.records, stop), daemon=True)
    thread.start()
    sampler.start()
    deadline = started + timeout_s
    done_at = None
    # Idle until every record has been seen, then until its batch commits.
    while not counted.all_seen.wait(1.0) and time.monotonic() < deadline and thread.is_alive():
        pass
    while counted.all_seen.is_set() and time.monotonic() < deadline and thread.is_alive():
        if runner.committed_batches > reached_at_batches[0]:
            done_at = time.monotonic()
            break
        time.sleep(0.001)
    memory = memory_mib()
    stop.set()
    thread.join(timeout=30)
    if counted.first_at is None:
        raise SystemExit(f"{stage} saw no record within {timeout_s}s")
    drained = done_at is not None
    if done_at is None:  # out of time: what it did so far
        done_at = time.monotonic()
    seconds = done_at - counted.first_at
    done_orders = orders if drained else round(orders * counted.seen_fraction())
    return {
        "stage": stage,
        "drained": drained,
        "orders_done": done_orders,
        "orders_per_s": round(done_orders / seconds, 1),
        "orders": orders,
        "records": counted.records,
        "seconds": round(seconds, 3),
        "records_per_s": round(counted.records / seconds, 1),
        "startup_s": round(counted.first_at - started, 2),
        "committed_batches": runner.committed_batches,
        "aborted_batches": runner.aborted_batches,
        **{k: round(v, 1) for k, v in memory.items() if v is not None},
        "rss_samples": samples,
    }


def drive_projector(settings: Config, orders: int, timeout_s: float) -> dict:
    from gateway.adapters.projector import order_projector
    from gateway.adapters.view import View
    from streams.kafka import ViewConsumer

    topics = Topics(settings.namespace)
    member = topics.group(f"order-view-{settings.instance_id}")
    view = View(settings.data_dir / "views" / member)
    counts = Counter[str]()
    first: list[float] = []

    def progress(changes: dict[bytes, bytes], positions: dict[tuple[str, int], int]) -> None:
        counts["changes"] += len(changes)
        counts["batches"] += 1

    class TimedConsumer(ViewConsumer):
        """Notes when the first records arrive, before they are projected."""

        def poll(self, max_records: int, timeout_s: float) -> list[Record]:
            records = super().poll(max_records, timeout_s)
            if records and not first:
                first.append(time.monotonic())
            return records

    def consumer(**kwargs: object) -> ViewConsumer:  # as gateway.bootstrap builds it
        return TimedConsumer(
            settings.bootstrap_servers,
            topics.group("order-view"),
            group_instance_id=member,
            client_id="bench",
            **kwargs,  # type: ignore[arg-type]
        )

    started = time.monotonic()
    projector = order_projector(consumer, view, topics, progress)
    stop = threading.Event()
    samples: list[tuple[int, float, float]] = []
    sampler = threading.Thread(target=_sample_memory, args=(samples, lambda: counts["changes"], stop), daemon=True)
    projector.start()
    sampler.start()
    if not projector.caught_up.wait(timeout_s) or not first:
        raise SystemExit(f"projector did not catch up within {timeout_s}s ({counts['changes']} orders seen)")
    done_at = time.monotonic()
    memory = memory_mib()
    stop.set()
    projector.stop()
    view.close()
    seconds = done_at - first[0]
    return {
        "stage": "projector",
        "drained": True,
        "orders_done": orders,
        "orders": orders,
        "records": counts["changes"],
        "seconds": round(seconds, 3),
        "orders_per_s": round(orders / seconds, 1),
        "records_per_s": round(counts["changes"] / seconds, 1),
        "startup_s": round(first[0] - started, 2),
        "committed_batches": counts["batches"],
        "aborted_batches": 0,
        **{k: round(v, 1) for k, v in memory.items() if v is not None},
        "rss_samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stages", description="drain one stage (the subprocess side)")
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--orders", required=True, type=int)
    parser.add_argument("--filled", required=True, help="JSON: topic -> records pre-filled")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--max-batch", type=int, help="records per transaction (default: the platform's)")
    args = parser.parse_args()
    limit_malloc_arenas()  # as every service process does
    settings = Config.load(
        kafka_bootstrap=args.bootstrap,
        namespace=args.namespace,
        data_dir=args.data_dir,
        validation_timeout_ms=DRAIN_VALIDATION_TIMEOUT_MS,
        **({"max_batch": args.max_batch} if args.max_batch else {}),
    )
    if args.stage == "projector":
        result = drive_projector(settings, args.orders, args.timeout)
    else:
        result = drive_processor(args.stage, settings, json.loads(args.filled), args.orders, args.timeout)
    print(json.dumps(result), flush=True)


# The orchestrating side -----------------------------------------------------------
def run_stage(
    stage: str,
    bootstrap: str,
    work_dir: Path,
    orders: int,
    log: Log,
    partitions: int = 3,
    profile_dir: Path | None = None,
    max_batch: int | None = None,
    timeout_s: float = 1800,
) -> dict:
    namespace = f"b{uuid.uuid4().hex[:8]}."
    settings = Config.load(kafka_bootstrap=bootstrap, namespace=namespace, partitions=partitions, data_dir=work_dir)
    create_topics(settings)
    topics = Topics(namespace)
    began = time.monotonic()
    filled = prefill(stage, bootstrap, topics, orders)
    log(f"stage {stage}: pre-filled {filled} in {time.monotonic() - began:.1f}s; draining")
    data_dir = work_dir / f"stage-{stage}-{namespace.rstrip('.')}"
    load = loadavg()
    recorders = []

    def profile(pid: int) -> None:
        if profile_dir is not None:
            recorders.append(profiling.start(pid, profile_dir / f"stage-{stage}-{orders}.txt"))

    with CpuWatch() as cpu:
        result = run_json(
            [
                "-m",
                "bench.stages",
                stage,
                "--bootstrap",
                bootstrap,
                "--namespace",
                namespace,
                "--data-dir",
                str(data_dir),
                "--orders",
                str(orders),
                "--filled",
                json.dumps(filled),
                *(["--max-batch", str(max_batch)] if max_batch else []),
                "--timeout",
                str(timeout_s),
            ],
            timeout_s=timeout_s + 300,
            env={"OMS_PARTITIONS": str(partitions), "OMS_LOG_LEVEL": "WARNING"},
            on_start=profile,
        )
    for recorder in recorders:
        profiling.stop(recorder)
    if profile_dir is not None:
        result["profile"] = profiling.top_frames(profile_dir / f"stage-{stage}-{orders}.txt", focus=WORK_LOOPS)
    shutil.rmtree(data_dir, ignore_errors=True)
    result |= {
        "loadavg": round(load, 2),
        **cpu.summary(),
        "max_batch": max_batch or Config.model_fields["max_batch"].default,
    }
    log(
        f"stage {stage}{'' if result['drained'] else ' (out of time: partial)'}: {result['orders_per_s']:.0f} orders/s ({result['records_per_s']:.0f} records/s), "
        f"peak RSS {result.get('peak_rss_mib')} MiB, load {load:.2f}"
    )
    return result


if __name__ == "__main__":
    main()
