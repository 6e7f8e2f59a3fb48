"""ListOrders latency for one customer with many orders.

One platform (1 instance per service, 3 partitions) on the benchmark's
broker. One customer places `orders` orders through the front door (the
SDK's asyncio client, up to PLACE_CONCURRENCY in flight: the system of
record's own path, nothing written around it): one product in ten is not
stocked, so those orders fail their inventory check and the state filter has
something to select. Once every order has its verdict, each query below is
walked page by page once (its pages' latencies are the walk's), and then one
page of it (the first, or one three quarters of the way in: a deep page,
whose token pins where the page before it ended) is asked REPEATS times in a
row, one call at a time: the p50/p99 of those calls are the figures.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import grpc

from bench.common import CpuWatch, Log, loadavg, summary_ms
from oms.customers.v1 import customers_pb2, customers_pb2_grpc
from oms.orders.v1 import order_pb2, query_service_pb2, query_service_pb2_grpc
from oms_client.aio import AsyncOmsClient
from tests.support.platform import Platform

PLACE_CONCURRENCY = 64
PRODUCTS = tuple(f"LIST-{i}" for i in range(9))
UNSTOCKED = "LIST-UNSTOCKED"
# Far below the fraud limit (2000 per session) even for 100,000 orders.
PRICE = 0.01
REPEATS = 100
VERDICT_WAIT_S = 900.0


@dataclass(frozen=True)
class Query:
    name: str
    state: int = 0
    product: str = ""
    page_size: int = 0
    # Where the measured page is: 0 the first, 0.75 three quarters of the way in.
    depth: float = 0.0


QUERIES = (
    Query("no filter, first page"),
    Query("no filter, deep page", depth=0.75),
    Query("no filter, first page of 500", page_size=500),
    Query("state FAILED, first page", state=order_pb2.ORDER_STATE_FAILED),
    Query("state FAILED, deep page", state=order_pb2.ORDER_STATE_FAILED, depth=0.75),
    Query("product, first page", product=PRODUCTS[0]),
    Query("product, deep page", product=PRODUCTS[0], depth=0.75),
    Query("state VALIDATED + product, first page", state=order_pb2.ORDER_STATE_VALIDATED, product=PRODUCTS[0]),
)


def start_platform(bootstrap: str, work_dir: Path) -> Platform:
    platform = Platform(
        bootstrap,
        work_dir / f"lists-{uuid.uuid4().hex[:6]}",
        env={"OMS_COMMIT_INTERVAL_MS": "20", "OMS_LOG_LEVEL": "WARNING"},
    )
    return platform.start(timeout_s=180)


async def place_all(target: str, customer_id: int, orders: int, log: Log) -> float:
    """Places the orders; returns the seconds it took."""
    async with AsyncOmsClient(target, timeout=120) as client:
        await client.upsert_customer(
            customer_id=customer_id, first_name="Bench", last_name="Lists", email="lists@example.com", level="GOLD"
        )
        await asyncio.gather(*(client.set_stock(p, 10**9) for p in PRODUCTS))
        gate = asyncio.Semaphore(PLACE_CONCURRENCY)
        began = time.monotonic()
        done = 0

        async def one(i: int) -> None:
            nonlocal done
            product = UNSTOCKED if i % 10 == 9 else PRODUCTS[i % len(PRODUCTS)]
            async with gate:
                await client.place_order(
                    order_id=f"list-{customer_id}-{i:06d}",
                    customer_id=customer_id,
                    product=product,
                    quantity=1,
                    price=PRICE,
                )
            done += 1
            if done % 1000 == 0:
                log(f"  placed {done:,}/{orders:,} ({done / (time.monotonic() - began):.0f}/s)")

        await asyncio.gather(*(one(i) for i in range(orders)))
        return time.monotonic() - began


def _call(
    stub: query_service_pb2_grpc.OrderQueryServiceStub, request: query_service_pb2.ListOrdersRequest
) -> tuple[query_service_pb2.ListOrdersResponse, float]:
    began = time.perf_counter()
    response = stub.ListOrders(request, timeout=60)
    return response, time.perf_counter() - began


def wait_for_verdicts(stub: query_service_pb2_grpc.OrderQueryServiceStub, customer_id: int, log: Log) -> float:
    began = time.monotonic()
    request = query_service_pb2.ListOrdersRequest(
        customer_id=customer_id, state=order_pb2.ORDER_STATE_CREATED, page_size=1
    )
    while _call(stub, request)[0].orders:
        if time.monotonic() - began > VERDICT_WAIT_S:
            raise TimeoutError(f"orders still CREATED after {VERDICT_WAIT_S:.0f}s")
        time.sleep(1)
    log(f"  every order decided {time.monotonic() - began:.0f}s after the last was placed")
    return time.monotonic() - began


def measure(stub: query_service_pb2_grpc.OrderQueryServiceStub, customer_id: int, query: Query) -> dict:
    def request(token: str = "") -> query_service_pb2.ListOrdersRequest:
        return query_service_pb2.ListOrdersRequest(
            customer_id=customer_id,
            state=query.state,
            product=query.product,
            page_size=query.page_size,
            page_token=token,
        )

    tokens, walk, matching, token = [""], [], 0, ""
    while True:
        response, seconds = _call(stub, request(token))
        walk.append(seconds)
        matching += len(response.orders)
        token = response.next_page_token
        if not token:
            break
        tokens.append(token)
    page = min(int(len(tokens) * query.depth), len(tokens) - 1)
    repeated = [_call(stub, request(tokens[page]))[1] for _ in range(REPEATS)]
    return {
        "query": query.name,
        "page_size": query.page_size or 50,
        "matching": matching,
        "pages": len(tokens),
        "page": page + 1,
        "latency_ms": summary_ms(repeated),
        "walk_ms": summary_ms(walk),
        "walk_s": round(sum(walk), 2),
    }


def run_lists(bootstrap: str, work_dir: Path, orders: int, log: Log) -> dict:
    customer_id = uuid.uuid4().int % 10**9 + 1
    platform = start_platform(bootstrap, work_dir)
    target = f"localhost:{platform.port}"
    out: dict = {"orders": orders, "partitions": 3, "instances": 1, "loadavg": round(loadavg(), 2)}
    try:
        with CpuWatch() as watch:
            log(f"lists: placing {orders:,} orders for customer {customer_id}")
            place_s = asyncio.run(place_all(target, customer_id, orders, log))
            out["place_s"] = round(place_s, 1)
            out["place_rate"] = round(orders / place_s, 1)
            with grpc.insecure_channel(target) as channel:
                stub = query_service_pb2_grpc.OrderQueryServiceStub(channel)
                out["verdicts_s"] = round(wait_for_verdicts(stub, customer_id, log), 1)
                out["queries"] = []
                for query in QUERIES:
                    result = measure(stub, customer_id, query)
                    log(
                        f"  {query.name}: page {result['page']}/{result['pages']}, "
                        f"p50 {result['latency_ms']['p50']:.1f} ms p99 {result['latency_ms']['p99']:.1f} ms"
                    )
                    out["queries"].append(result)
                # A sanity check that the customer is known (the view is keyed by it).
                people = customers_pb2_grpc.CustomerServiceStub(channel)
                people.GetCustomer(customers_pb2.GetCustomerRequest(customer_id=customer_id), timeout=30)
        out |= watch.summary()
        out.pop("cores_by_process", None)
    finally:
        platform.stop()
    return out
