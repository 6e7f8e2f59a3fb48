"""An open-loop load generator for the front door.

Orders arrive at a fixed rate whatever the system does: each of several
worker processes (grpc.aio) takes an equal share of the rate and sends its
orders at absolute times (start + k/rate), never waiting for answers before
sending the next. What a worker cannot send on time is sent late, and its
lateness is recorded, so a generator that falls behind shows it.

For each order: PlaceOrder, then WatchOrder (from the placement's log
position) until the order reaches a terminal state. Its latency runs from
sending PlaceOrder to receiving the terminal state.

`python -m bench.loadgen echo` serves a trivial front door (the same RPCs,
answered at once) to measure the generator's own ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import resource
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import grpc

from bench.common import percentile, summary_ms
from oms.orders.v1 import (
    command_service_pb2,
    command_service_pb2_grpc,
    order_pb2,
    query_service_pb2,
    query_service_pb2_grpc,
)
from orders.codec import TERMINAL_STATES_PB

TERMINAL = TERMINAL_STATES_PB


@dataclass(frozen=True)
class Plan:
    target: str
    rate: float
    duration_s: float
    workers: int = 2
    channels_per_worker: int = 2
    # Orders sent before this many seconds are left out of the latency figures.
    warmup_s: float = 0.0
    # How long, after the last send, answers are still awaited.
    drain_s: float = 30.0
    # Per worker: past this many orders in flight, sends wait (and are late).
    max_in_flight: int = 20_000
    run: str = "run"
    customers: tuple[int, ...] = (1,)
    products: tuple[str, ...] = ("BENCH",)
    quantity: int = 1
    price: float = 1.0
    call_timeout_s: float = 60.0


# One order: scheduled, sent, placed (PlaceOrder answered), done (terminal
# state seen); -1 for what did not happen; a status ("ok" or the error); and
# the order's id.
Outcome = tuple[float, float, float, float, str, str]


def _describe(call: str, error: grpc.aio.AioRpcError) -> str:
    """The call, status and details, and whether the status came from the server."""
    where = "from the server" if "from peer" in (error.debug_error_string() or "") else "local"
    return f"{call} {error.code().name} ({where}): {error.details()}"[:160]


async def _one(plan: Plan, index: int, scheduled: float, command, query, outcomes: list[Outcome]) -> None:  # type: ignore[no-untyped-def]
    request = command_service_pb2.PlaceOrderRequest(
        order_id=f"{plan.run}-{index}",
        customer_id=plan.customers[index % len(plan.customers)],
        product=plan.products[index % len(plan.products)],
        quantity=plan.quantity,
        price=plan.price,
    )
    sent = time.monotonic()
    try:
        await _place_and_watch(plan, request, command, query, outcomes, scheduled, sent)
    except asyncio.CancelledError:  # still waiting when the run ended
        outcomes.append((scheduled, sent, -1.0, -1.0, "no answer in time", request.order_id))
        raise


async def _place_and_watch(
    plan: Plan, request, command, query, outcomes: list[Outcome], scheduled: float, sent: float
) -> None:  # type: ignore[no-untyped-def]
    placed = done = -1.0
    status = "ok"
    try:
        answer = await command.PlaceOrder(request, timeout=plan.call_timeout_s)
    except grpc.aio.AioRpcError as error:
        outcomes.append((scheduled, sent, placed, done, _describe("PlaceOrder", error), request.order_id))
        return
    placed = time.monotonic()
    try:
        if answer.order.state in TERMINAL:
            done = placed
        else:
            watch = query_service_pb2.WatchOrderRequest(order_id=request.order_id, min_position=answer.position)
            async for update in query.WatchOrder(watch, timeout=plan.call_timeout_s - (placed - sent)):
                if update.order.state in TERMINAL:
                    done = time.monotonic()
            if done < 0:
                status = "watch ended early"
    except grpc.aio.AioRpcError as error:
        status = _describe("WatchOrder", error)
    outcomes.append((scheduled, sent, placed, done, status, request.order_id))


async def _work(plan: Plan, index: int, start_at: float) -> list[Outcome]:
    channels = [
        grpc.aio.insecure_channel(plan.target, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(plan.channels_per_worker)
    ]
    for channel in channels:
        await asyncio.wait_for(channel.channel_ready(), 30)
    stubs = [
        (command_service_pb2_grpc.OrderCommandServiceStub(c), query_service_pb2_grpc.OrderQueryServiceStub(c))
        for c in channels
    ]
    outcomes: list[Outcome] = []
    in_flight: set[asyncio.Task[None]] = set()
    interval = plan.workers / plan.rate
    first = start_at + index / plan.rate
    end = start_at + plan.duration_s
    k = 0
    while True:
        due = first + k * interval
        if due >= end:
            break
        now = time.monotonic()
        if due > now:
            await asyncio.sleep(due - now)
            continue
        if len(in_flight) >= plan.max_in_flight:
            await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            continue
        # Everything due now goes out before the loop sleeps again.
        number = k * plan.workers + index
        command, query = stubs[k % len(stubs)]
        task = asyncio.create_task(_one(plan, number, due, command, query, outcomes))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        k += 1
    if in_flight:
        await asyncio.wait(in_flight, timeout=max(0.1, end + plan.drain_s - time.monotonic()))
    unfinished = list(in_flight)
    for task in unfinished:
        task.cancel()
    await asyncio.gather(*unfinished, return_exceptions=True)  # they note themselves as unanswered
    for channel in channels:
        await channel.close()
    return outcomes


def _worker(plan: Plan, index: int, pipe) -> None:  # type: ignore[no-untyped-def]
    pipe.send("ready")
    start_at = pipe.recv()
    outcomes = asyncio.run(_work(plan, index, start_at))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    pipe.send((outcomes, usage.ru_utime + usage.ru_stime))
    pipe.close()


@dataclass
class LoadResult:
    offered_rate: float
    duration_s: float
    workers: int
    sent: int
    completed: int
    errors: dict[str, int]
    send_rate: float
    throughput: float
    latency_ms: dict[str, float]
    place_ms: dict[str, float]
    lateness_ms: dict[str, float]
    generator_cpu_s_per_1000: float
    extra: dict[str, float] = field(default_factory=dict)
    # Per order, for a closer look (not in the JSON): the plan's order ids are
    # f"{run}-{index}", and wall-clock time = monotonic time + wall_offset.
    outcomes: list[Outcome] = field(default_factory=list, repr=False)
    wall_offset: float = 0.0

    def to_json(self) -> dict:
        out = asdict(self)
        del out["outcomes"], out["wall_offset"]
        return out


def run_load(plan: Plan) -> LoadResult:
    """Runs the plan's workers and sums up what they saw."""
    context = multiprocessing.get_context("spawn")  # gRPC does not survive fork
    pipes, processes = [], []
    for index in range(plan.workers):
        ours, theirs = context.Pipe()
        process = context.Process(target=_worker, args=(plan, index, theirs), daemon=True)
        process.start()
        pipes.append(ours)
        processes.append(process)
    for pipe in pipes:
        if not pipe.poll(60) or pipe.recv() != "ready":
            raise RuntimeError("a load generator worker did not start")
    start_at = time.monotonic() + 0.5
    for pipe in pipes:
        pipe.send(start_at)
    outcomes: list[Outcome] = []
    cpu_s = 0.0
    limit = plan.duration_s + plan.drain_s + 120
    for pipe in pipes:
        if not pipe.poll(limit):
            raise RuntimeError("a load generator worker did not report")
        got, cpu = pipe.recv()
        outcomes.extend(got)
        cpu_s += cpu
    for process in processes:
        process.join(timeout=10)
    result = summarize(plan, start_at, outcomes, cpu_s)
    result.outcomes = outcomes
    result.wall_offset = time.time() - time.monotonic()
    return result


def summarize(plan: Plan, start_at: float, outcomes: list[Outcome], cpu_s: float) -> LoadResult:
    window_start = start_at + plan.warmup_s
    measured = [o for o in outcomes if o[0] >= window_start]
    # An order that never finished counts as infinitely late.
    latencies = [(o[3] - o[1]) if o[3] >= 0 else math.inf for o in measured]
    places = [(o[2] - o[1]) if o[2] >= 0 else math.inf for o in measured]
    lateness = [o[1] - o[0] for o in measured]
    sends = sorted(o[1] for o in outcomes)
    finished = [o[3] for o in outcomes if o[3] >= 0]
    span = sends[-1] - sends[0] if len(sends) > 1 else math.nan
    errors = Counter(o[4] for o in outcomes if o[4] != "ok")
    return LoadResult(
        offered_rate=plan.rate,
        duration_s=plan.duration_s,
        workers=plan.workers,
        sent=len(outcomes),
        completed=sum(1 for o in outcomes if o[3] >= 0),
        errors=dict(errors),
        send_rate=round(len(sends) / span, 1) if span and span > 0 else math.nan,
        # Completed orders over the time from the start to the last completion:
        # the offered rate when the platform keeps up, its capacity when not.
        throughput=round(len(finished) / (max(finished) - start_at), 1) if finished else 0.0,
        latency_ms=_rounded(summary_ms(latencies)),
        place_ms=_rounded(summary_ms(places)),
        lateness_ms=_rounded(summary_ms(lateness)),
        generator_cpu_s_per_1000=round(cpu_s / max(1, len(outcomes)) * 1000, 3),
    )


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: (round(v, 2) if math.isfinite(v) else v) for k, v in values.items()}


def sustained(result: LoadResult, p99_limit_ms: float = 1000.0) -> bool:
    """Kept up: every order finished, p99 under the limit, sends on time."""
    return (
        not result.errors
        and result.latency_ms["p99"] < p99_limit_ms
        and result.lateness_ms["p99"] < 100.0
        and result.send_rate >= 0.95 * result.offered_rate
    )


# A trivial front door, for the generator's own ceiling --------------------------------
class _EchoCommands(command_service_pb2_grpc.OrderCommandServiceServicer):
    async def PlaceOrder(self, request, context):  # type: ignore[no-untyped-def]
        order = order_pb2.Order(
            order_id=request.order_id,
            customer_id=request.customer_id,
            product=request.product,
            quantity=request.quantity,
            price=request.price,
            state=order_pb2.ORDER_STATE_CREATED,
            version=1,
        )
        return command_service_pb2.PlaceOrderResponse(order=order, created=True)


class _EchoQueries(query_service_pb2_grpc.OrderQueryServiceServicer):
    async def WatchOrder(self, request, context):  # type: ignore[no-untyped-def]
        order = order_pb2.Order(order_id=request.order_id, state=order_pb2.ORDER_STATE_CREATED, version=1)
        yield query_service_pb2.WatchOrderResponse(order=order)
        order.state, order.version = order_pb2.ORDER_STATE_VALIDATED, 2
        yield query_service_pb2.WatchOrderResponse(order=order)


async def _serve_echo(port: int) -> None:
    server = grpc.aio.server()
    command_service_pb2_grpc.add_OrderCommandServiceServicer_to_server(_EchoCommands(), server)
    query_service_pb2_grpc.add_OrderQueryServiceServicer_to_server(_EchoQueries(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("serving", flush=True)
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    sub = parser.add_subparsers(dest="command", required=True)
    echo = sub.add_parser("echo", help="serve a trivial front door")
    echo.add_argument("--port", type=int, required=True)
    load = sub.add_parser("run", help="send open-loop load and print the summary")
    load.add_argument("--target", required=True)
    load.add_argument("--rate", type=float, required=True)
    load.add_argument("--duration", type=float, default=10)
    load.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.command == "echo":
        asyncio.run(_serve_echo(args.port))
    else:
        plan = Plan(args.target, args.rate, args.duration, args.workers, run=f"load-{os.getpid()}")
        print(run_load(plan).to_json())


if __name__ == "__main__":
    main()


__all__ = ["LoadResult", "Plan", "percentile", "run_load", "sustained"]
