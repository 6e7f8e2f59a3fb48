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

from bench.common import REPO, CpuWatch, Log, loadavg, memory_mib, wait_for_quiet
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
    log(f"platform with {instances} instance(s) per service, {partitions} partitions, up in {time.monotonic() - began:.0f}s")
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


def load_step(target: str, rate: float, duration_s: float, warmup_s: float, customers: Sequence[int], log: Log, workers: int = 2) -> dict:
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
    lat = result.latency_ms
    log(
        f"  {rate:>6.0f}/s for {duration_s:.0f}s: done {result.completed}/{result.sent}, throughput {result.throughput}/s, "
        f"p50 {lat['p50']:.0f} p99 {lat['p99']:.0f} p99.9 {lat['p99.9']:.0f} ms, lateness p99 {result.lateness_ms['p99']:.1f} ms, "
        f"errors {result.errors or 0}, load {load:.2f}, others {out['cores_others']} cores"
    )
    return out


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
    """Fixed rates in ascending order until one is not sustained (p99 >= 1 s,
    errors, or late sends); with `refine`, one more step between the last
    rate kept up with and the first one not."""
    target = f"localhost:{platform.port}"
    customers = platform.bench_customers  # type: ignore[attr-defined]
    steps = []
    best = None
    failed_at = None
    for rate in rates:
        wait_for_quiet(max_load, wait_s, log)
        step = load_step(target, rate, duration_s, warmup_s, customers, log)
        step["memory"] = service_memory(platform)
        steps.append(step)
        platform.supervise()
        if step["sustained"]:
            best = rate
        else:
            failed_at = rate
            break
        time.sleep(2)  # let the last verdicts settle
    if refine and best is not None and failed_at is not None and failed_at > best * 1.2:
        time.sleep(20)  # let the failed step's backlog drain
        middle = round((best + failed_at) / 2, -1)
        wait_for_quiet(max_load, wait_s, log)
        step = load_step(target, middle, duration_s, warmup_s, customers, log)
        step["memory"] = service_memory(platform)
        steps.append(step)
        if step["sustained"]:
            best = middle
    return {
        "steps": steps,
        "max_sustained_rate": best,
        "first_failed_rate": failed_at,
        "duration_s": duration_s,
        "warmup_s": warmup_s,
    }


def saturate(platform: Platform, rate: float, duration_s: float, warmup_s: float, log: Log) -> dict:
    """Offers more than the platform can take; throughput is what completes."""
    step = load_step(f"localhost:{platform.port}", rate, duration_s, warmup_s, platform.bench_customers, log)  # type: ignore[attr-defined]
    step["memory"] = service_memory(platform)
    return step


# The generator's ceiling --------------------------------------------------------
def generator_ceiling(rates: Sequence[float], duration_s: float, log: Log, servers: int = 2) -> dict:
    """The generator against a trivial front door (two server processes)."""
    port = free_port()
    processes = [
        subprocess.Popen([sys.executable, "-m", "bench.loadgen", "echo", "--port", str(port)], cwd=REPO, stdout=subprocess.PIPE)
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
