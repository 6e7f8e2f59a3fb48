"""End to end: open-loop load through the front door of a running platform
(every service as a real process, as `make run` starts them), and the
generator's own ceiling against a trivial front door."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import grpc

from bench.common import REPO, CpuWatch, Log, loadavg, memory_mib, platform_cores, wait_for_quiet
from bench.loadgen import LoadResult, Plan, run_load, sustained
from oms.customers.v1 import customers_pb2, customers_pb2_grpc
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from tests.support.platform import Platform
from tests.support.ports import free_port

PRODUCTS = tuple(f"E2E-{i:02d}" for i in range(50))
# Enough customers that no session nears the fraud limit at PRICE, so every
# order passes every check, and each is known to routing (no dead letters).
CUSTOMERS = 2000
PRICE = 0.5


def start_platform(bootstrap: str, work_dir: Path, instances: int, partitions: int, log: Log) -> Platform:
    began = time.monotonic()
    platform = Platform(
        bootstrap,
        work_dir / f"platform-{uuid.uuid4().hex[:6]}",
        instances=instances,
        partitions=partitions,
        # make run's defaults, not the test suite's faster commit interval.
        env={"OMS_COMMIT_INTERVAL_MS": "20", "OMS_LOG_LEVEL": "WARNING"},
    )
    platform.start(timeout_s=180)
    customers = prepare(platform)
    log(
        f"platform with {instances} instance(s) per service, {partitions} partitions, up in {time.monotonic() - began:.0f}s"
    )
    platform.bench_customers = customers  # type: ignore[attr-defined]
    return platform


def prepare(platform: Platform) -> tuple[int, ...]:
    """Stocks the products and registers the customers the load uses."""
    base = int(uuid.uuid4().int % 10**9) * 10_000

    async def run() -> None:
        async with grpc.aio.insecure_channel(f"localhost:{platform.port}") as channel:
            stock = inventory_pb2_grpc.InventoryServiceStub(channel)
            people = customers_pb2_grpc.CustomerServiceStub(channel)
            gate = asyncio.Semaphore(50)

            async def bounded(call: Callable[[], Awaitable[object]]) -> None:
                async with gate:
                    await call()

            def set_stock(product: str) -> Awaitable[object]:
                return stock.SetStock(inventory_pb2.SetStockRequest(product=product, quantity=10**9), timeout=60)

            def upsert(i: int) -> Awaitable[object]:
                customer = customers_pb2.Customer(
                    customer_id=base + i,
                    first_name="Bench",
                    last_name=f"Customer{i}",
                    email=f"bench{i}@example.com",
                    level=customers_pb2.CUSTOMER_LEVEL_SILVER,
                )
                return people.UpsertCustomer(customers_pb2.UpsertCustomerRequest(customer=customer), timeout=60)

            await asyncio.gather(*(bounded(lambda p=p: set_stock(p)) for p in PRODUCTS))
            await asyncio.gather(*(bounded(lambda i=i: upsert(i)) for i in range(CUSTOMERS)))

    asyncio.run(run())
    return tuple(base + i for i in range(CUSTOMERS))


def service_memory(platform: Platform) -> dict[str, dict[str, float | None]]:
    return {name: memory_mib(pid) for name, pid in sorted(platform.supervisor.pids().items())}


def load_step(
    target: str,
    rate: float,
    duration_s: float,
    warmup_s: float,
    customers: Sequence[int],
    log: Log,
    workers: int = 2,
    platform: Platform | None = None,
) -> dict:
    """One open-loop run; with the platform, also where the orders' time went."""
    plan = Plan(
        target=target,
        rate=rate,
        duration_s=duration_s,
        workers=workers,
        warmup_s=warmup_s,
        drain_s=30.0,
        run=f"o{uuid.uuid4().hex[:8]}",
        customers=tuple(customers),
        products=PRODUCTS,
        price=PRICE,
    )
    load = loadavg()
    with CpuWatch() as cpu:
        result: LoadResult = run_load(plan)
    out = result.to_json() | {"loadavg": round(load, 2), **cpu.summary(), "sustained": sustained(result)}
    if platform is not None and result.completed:
        out["hops"] = hop_breakdown(platform, result)
        log(
            "    where the time went (p50 / p99 ms): "
            + "; ".join(f"{k} {v['p50']:.0f}/{v['p99']:.0f}" for k, v in out["hops"].items())
        )
    lat = result.latency_ms
    log(
        f"  {rate:>6.0f}/s for {duration_s:.0f}s: done {result.completed}/{result.sent}, throughput {result.throughput}/s, "
        f"p50 {lat['p50']:.0f} p99 {lat['p99']:.0f} p99.9 {lat['p99.9']:.0f} ms, lateness p99 {result.lateness_ms['p99']:.1f} ms, "
        f"errors {result.errors or 0}, load {load:.2f}, others {out['cores_others']} cores"
    )
    return out


# The rates the targets are judged at: the sweep measures them even when a
# lower rate was not kept up with.
REQUIRED_RATES = (50, 200, 300, 500)


def sweep(
    platform: Platform,
    rates: Sequence[float],
    duration_s: float,
    warmup_s: float,
    log: Log,
    max_load: float,
    wait_s: float,
    refine: bool,
) -> dict:
    """Fixed rates in ascending order until one is not kept up with (p99 >= 1 s,
    errors, or late sends) at or past the highest required rate; with
    `refine`, one more step between the highest rate kept up with and the
    first one not."""
    target = f"localhost:{platform.port}"
    customers = platform.bench_customers  # type: ignore[attr-defined]
    steps = []
    best = None
    failed_at = None
    for rate in rates:
        wait_for_quiet(max_load, wait_s, log)
        step = load_step(target, rate, duration_s, warmup_s, customers, log, platform=platform)
        step["memory"] = service_memory(platform)
        steps.append(step)
        platform.supervise()
        if step["sustained"] and failed_at is None:
            best = rate
        elif not step["sustained"]:
            failed_at = failed_at or rate
            if rate >= max(REQUIRED_RATES):
                break
        settle(platform, log)
    if refine and best is not None and failed_at is not None and failed_at > best * 1.2:
        settle(platform, log)
        middle = round((best + failed_at) / 2, -1)
        wait_for_quiet(max_load, wait_s, log)
        step = load_step(target, middle, duration_s, warmup_s, customers, log, platform=platform)
        step["memory"] = service_memory(platform)
        steps.append(step)
        if step["sustained"]:
            best = middle
    return {
        "layout": platform.settings.layout,
        "steps": steps,
        "max_sustained_rate": best,
        "first_failed_rate": failed_at,
        "duration_s": duration_s,
        "warmup_s": warmup_s,
    }


# A new platform keeps the broker busier for about this long after a first
# order went through (measured: its idle cores halve over ~10 s, then hold).
IDLE_AFTER_S = 10.0


def idle(platform: Platform, duration_s: float, log: Log) -> dict:
    """Cores the platform (services and broker) uses with no load, once it
    has settled: a first order went through quickly, and start-up is over."""
    settle(platform, log)
    time.sleep(IDLE_AFTER_S)
    with CpuWatch() as cpu:
        time.sleep(duration_s)
    out = {"duration_s": duration_s, **cpu.summary()}
    out["cores"] = platform_cores(out["cores_by_process"])
    log(f"  idle for {duration_s:.0f}s: the platform used {out['cores']} cores, others {out['cores_others']}")
    return out


# The warm-up's rate: enough for the broker's JIT to compile its hot paths.
WARM_UP_RATE = 100


def warm_up(platform: Platform, duration_s: float, log: Log) -> None:
    """Load before anything is measured: the broker (a JVM) compiles its
    hot paths in its first minute of work, spending up to a core on it, and
    that is start-up, not the cost of an order."""
    if duration_s <= 0:
        return
    target = f"localhost:{platform.port}"
    customers = platform.bench_customers  # type: ignore[attr-defined]
    step = load_step(target, WARM_UP_RATE, duration_s, 0, customers, log=lambda _line: None)
    log(f"  warm-up: {WARM_UP_RATE}/s for {duration_s:.0f}s, not measured (done {step['completed']}/{step['sent']})")


def settle(platform: Platform, log: Log, max_s: float = 120.0) -> float:
    """Waits until a single order goes through in under a second (the
    backlog of an overloaded step has drained); returns how long it took."""
    from oms.orders.v1 import command_service_pb2, query_service_pb2

    began = time.monotonic()
    while True:
        request = command_service_pb2.PlaceOrderRequest(
            order_id=f"probe-{uuid.uuid4().hex}",
            customer_id=platform.bench_customers[0],  # type: ignore[attr-defined]
            product=PRODUCTS[0],
            quantity=1,
            price=PRICE,
        )
        sent = time.monotonic()
        try:
            placed = platform.commands.PlaceOrder(request, timeout=30)
            watch = query_service_pb2.WatchOrderRequest(order_id=request.order_id, min_position=placed.position)
            for _ in platform.queries.WatchOrder(watch, timeout=60):
                pass
            took = time.monotonic() - sent
        except grpc.RpcError:
            took = float("inf")
        if took < 1.0 or time.monotonic() - began > max_s:
            if time.monotonic() - began > 5:
                log(f"  settled after {time.monotonic() - began:.0f}s (a probe order took {took * 1000:.0f} ms)")
            return time.monotonic() - began
        time.sleep(5)


def saturate(platform: Platform, rate: float, duration_s: float, warmup_s: float, log: Log) -> dict:
    """Offers more than the platform can take; throughput is what completes,
    restarts how many services died meanwhile (the supervisor started them again)."""
    restarts = platform.supervisor.restarts
    step = load_step(f"localhost:{platform.port}", rate, duration_s, warmup_s, platform.bench_customers, log)  # type: ignore[attr-defined]
    platform.supervise()  # a death of the last moment is counted too
    step["restarts"] = platform.supervisor.restarts - restarts
    step["memory"] = service_memory(platform)
    if step["restarts"]:
        log(f"    {step['restarts']} service restart(s) under this load")
    return step


# The generator's ceiling --------------------------------------------------------
def generator_ceiling(rates: Sequence[float], duration_s: float, log: Log, servers: int = 2) -> dict:
    """The generator against a trivial front door (two server processes)."""
    port = free_port()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.loadgen", "echo", "--port", str(port)], cwd=REPO, stdout=subprocess.PIPE
        )
        for _ in range(servers)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            process.stdout.readline()
        steps = []
        best = None
        for rate in rates:
            step = load_step(f"127.0.0.1:{port}", rate, duration_s, min(1.0, duration_s / 5), (1,), log)
            steps.append(step)
            if step["sustained"] and step["latency_ms"]["p99"] < 100:
                best = rate
            else:
                break
        return {"steps": steps, "ceiling_rate": best, "servers": servers}
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


# Where an order's time goes ---------------------------------------------------
HOPS = (
    ("PlaceOrder sent → OrderPlaced produced", "sent", "placed"),
    ("OrderPlaced → order-details answer", "placed", "v_order_details"),
    ("OrderPlaced → fraud re-key", "placed", "fraud_rekey"),
    ("fraud re-key → fraud answer", "fraud_rekey", "v_fraud"),
    ("OrderPlaced → inventory re-key", "placed", "inventory_rekey"),
    ("inventory re-key → inventory answer", "inventory_rekey", "v_inventory"),
    ("last answer → verdict produced", "last_answer", "verdict"),
    ("verdict produced → client has it", "verdict", "done"),
    ("total", "sent", "done"),
)


def _read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None, int]]:
    """Every committed record of a topic: (key, value, timestamp ms)."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    from streams.kafka import partition_count

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-hops-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    records = []
    try:
        wanted = []
        for partition in range(partition_count(bootstrap, topic)):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if high > low:
                wanted.append(TopicPartition(topic, partition, low))
        consumer.assign(wanted)
        remaining = len(wanted)
        deadline = time.monotonic() + 60
        while remaining and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=10_000, timeout=1.0):
                if message.error() is not None:
                    if message.error().code() == KafkaError._PARTITION_EOF:
                        remaining -= 1
                    continue
                records.append((message.key(), message.value(), message.timestamp()[1]))
    finally:
        consumer.close()
    return records


def hop_breakdown(platform: Platform, result: LoadResult) -> dict[str, dict[str, float]]:
    """Per hop of the workflow, how long orders took (median, p99), from the
    records' create times (set when produced; a transactional record is seen
    downstream only once its transaction commits) and the client's clock."""
    from bench.common import summary_ms
    from oms.orders.v1 import events_pb2, order_pb2
    from oms.validation.v1 import state_pb2
    from topology.topics import Topics

    topics = Topics(platform.namespace)
    bootstrap = platform.bootstrap
    ours = {o[5]: o for o in result.outcomes if o[3] >= 0}
    times: dict[str, dict[str, float]] = {
        order_id: {"sent": (o[1] + result.wall_offset) * 1000, "done": (o[3] + result.wall_offset) * 1000}
        for order_id, o in ours.items()
    }
    checks = {
        order_pb2.CHECK_TYPE_ORDER_DETAILS: "v_order_details",
        order_pb2.CHECK_TYPE_FRAUD: "v_fraud",
        order_pb2.CHECK_TYPE_INVENTORY: "v_inventory",
    }
    for _, value, ts in _read_all(bootstrap, topics.orders):
        event = events_pb2.OrderEvent.FromString(value or b"")
        if event.order_id in times:
            times[event.order_id]["placed" if event.WhichOneof("kind") == "placed" else "verdict"] = ts
    for _, value, ts in _read_all(bootstrap, topics.order_validations):
        validation = events_pb2.OrderValidation.FromString(value or b"")
        if validation.order_id in times and validation.outcome.check_type in checks:
            times[validation.order_id][checks[validation.outcome.check_type]] = ts
    for _, value, ts in _read_all(bootstrap, topics.fraud_check_orders):
        candidate = state_pb2.FraudCandidate.FromString(value or b"")
        if candidate.order_id in times:
            times[candidate.order_id]["fraud_rekey"] = ts
    for _, value, ts in _read_all(bootstrap, topics.inventory_check_orders):
        claim = state_pb2.InventoryClaim.FromString(value or b"")
        if claim.order_id in times and claim.WhichOneof("kind") == "reserve":
            times[claim.order_id]["inventory_rekey"] = ts
    for entry in times.values():
        answers = [entry[k] for k in checks.values() if k in entry]
        if answers:
            entry["last_answer"] = max(answers)
    out = {}
    for name, start, end in HOPS:
        gaps = [(t[end] - t[start]) / 1000 for t in times.values() if start in t and end in t]
        summary = summary_ms(gaps)
        out[name] = {"p50": round(summary["p50"], 1), "p99": round(summary["p99"], 1), "count": summary["count"]}
    return out
