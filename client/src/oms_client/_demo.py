"""`oms demo`: plays the whole story of an order, with live progress.

It registers its customers (of every level, so routing and the emails run
too), stocks its products, then places a stream of orders. Each order is of
one kind, and each kind should end in one way:

| kind        | share | what it is                                   | should end      |
|-------------|-------|----------------------------------------------|-----------------|
| good        | 70 %  | 1-3 units at 5-50 of a stocked product        | VALIDATED       |
| over-stock  | 10 %  | 3-5 units of a product with 2 in stock       | FAILED inventory|
| fraud       | 10 %  | one order of 2500 or more (limit: 2000)       | FAILED fraud    |
| bad details | 7 %   | a negative price, or quantity 0              | FAILED details  |
| rejected    | 3 %   | no customer id: the front door refuses it    | INVALID_ARGUMENT|

(The aggregator decides on the first failing check, and the inventory check
refuses quantity 0 too, so an order of 0 units may fail there first.)

A good order, once VALIDATED, then meets its fate:

| fate   | share | what the demo does             | should end |
|--------|-------|--------------------------------|------------|
| ship   | 55 %  | pays in full, then ships it    | SHIPPED    |
| paid   | 20 %  | pays in full, ships nothing    | VALIDATED  |
| cancel | 15 %  | cancels it (the stock returns) | CANCELLED  |
| unpaid | 10 %  | nothing                        | VALIDATED  |

The summary counts the orders by the state they ended in, and gives the
latency from placing an order to its verdict (p50, p95, p99).

Products and customers are new for every run, so runs do not disturb
each other or anything else on the platform.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from oms_client.aio import AsyncOmsClient
from oms_client.errors import InvalidArgument, OmsError
from oms_client.types import CheckResult, CheckType, CustomerLevel, Order, OrderState, check_type_name, state_name

if TYPE_CHECKING:
    from oms_client.cli import Output

GOOD, OVER_STOCK, FRAUD, BAD_DETAILS, REJECTED = "good", "over-stock", "fraud", "bad-details", "rejected"
MIX = ((GOOD, 70), (OVER_STOCK, 10), (FRAUD, 10), (BAD_DETAILS, 7), (REJECTED, 3))
EXPECTED_FAILED_CHECKS = {
    OVER_STOCK: {CheckType.CHECK_TYPE_INVENTORY},
    FRAUD: {CheckType.CHECK_TYPE_FRAUD},
    BAD_DETAILS: {CheckType.CHECK_TYPE_ORDER_DETAILS},
}
STOCKED = ("JUMPERS", "UNDERPANTS", "STOCKINGS", "HATS")
SCARCE = "LIMITED-EDITION"
SCARCE_STOCK = 2
MAX_IN_FLIGHT = 500
SHIP, PAID, CANCEL, UNPAID = "ship", "paid", "cancel", "unpaid"
FATES = ((SHIP, 55), (PAID, 20), (CANCEL, 15), (UNPAID, 10))
LEVELS = (
    CustomerLevel.CUSTOMER_LEVEL_BRONZE,
    CustomerLevel.CUSTOMER_LEVEL_SILVER,
    CustomerLevel.CUSTOMER_LEVEL_GOLD,
    CustomerLevel.CUSTOMER_LEVEL_PLATINUM,
)
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson")


@dataclass(frozen=True)
class DemoConfig:
    target: str
    rate: float = 10.0
    count: int = 100
    seed: int | None = None
    timeout: float = 30.0
    # Connection security (OmsClient's token, ca, cert, key).
    security: dict[str, str] = field(default_factory=dict)
    # How long to wait for each order's verdict.
    verdict_timeout: float = 60.0


@dataclass(frozen=True)
class Planned:
    kind: str
    order_id: str
    customer_id: int
    product: str
    quantity: int
    price: float
    # What happens to a good order once VALIDATED (see FATES); "" for the others.
    fate: str = ""

    @property
    def amount(self) -> float:
        return round(self.quantity * self.price, 2)

    @property
    def should_end(self) -> int:
        if self.kind != GOOD:
            return OrderState.ORDER_STATE_FAILED
        return {SHIP: OrderState.ORDER_STATE_SHIPPED, CANCEL: OrderState.ORDER_STATE_CANCELLED}.get(
            self.fate, OrderState.ORDER_STATE_VALIDATED
        )


def customers_of(orders: list[Planned]) -> list[tuple[int, int]]:
    """(customer id, level) of every customer the orders name, the levels
    taken in turn, so that a run of 4 customers or more has every level."""
    ids = sorted({o.customer_id for o in orders if o.customer_id > 0})
    return [(customer_id, LEVELS[n % len(LEVELS)]) for n, customer_id in enumerate(ids)]


def plan(config: DemoConfig, run: str, rng: random.Random) -> list[Planned]:
    """The orders of one run, in order. Good orders spread over a pool of
    customers whose sessions stay far below the fraud limit; every other
    order has a customer of its own."""
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    base = rng.randrange(10**9, 10**12)
    pool = max(1, config.count // 4)
    fresh = iter(range(base + pool, base + pool + config.count))
    orders = []
    for n in range(config.count):
        kind = rng.choices(kinds, weights)[0]
        order_id = f"demo-{run}-{n:06d}"
        product = f"{rng.choice(STOCKED)}-{run}"
        if kind == GOOD:
            planned = Planned(kind, order_id, base + n % pool, product, rng.randint(1, 3), round(rng.uniform(5, 50), 2))
        elif kind == OVER_STOCK:
            planned = Planned(kind, order_id, next(fresh), f"{SCARCE}-{run}", rng.randint(SCARCE_STOCK + 1, 5), 19.99)
        elif kind == FRAUD:
            planned = Planned(
                kind, order_id, next(fresh), product, rng.randint(10, 20), round(rng.uniform(250, 500), 2)
            )
        elif kind == BAD_DETAILS:
            quantity, price = rng.choice([(0, 9.99), (2, -9.99)])
            planned = Planned(kind, order_id, next(fresh), product, quantity, price)
        else:
            planned = Planned(kind, order_id, 0, product, 1, 9.99)
        orders.append(planned)
    # Fates are drawn after the kinds, so a seed picks the same kinds as before.
    fates = [f for f, _ in FATES]
    fate_weights = [w for _, w in FATES]
    return [replace(o, fate=rng.choices(fates, fate_weights)[0]) if o.kind == GOOD else o for o in orders]


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted values (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Progress:
    total: int
    started: float = field(default_factory=time.monotonic)
    placed: int = 0
    validated: int = 0
    failed: int = 0
    rejected: int = 0
    errors: int = 0
    unexpected: int = 0
    paid: int = 0
    shipped: int = 0
    cancelled: int = 0
    customers: int = 0
    final_states: Counter[str] = field(default_factory=Counter)
    failed_by_check: Counter[str] = field(default_factory=Counter)
    last_placed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    place_latencies: list[float] = field(default_factory=list)
    last_error: str = ""

    def snapshot(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.started
        placing = (self.last_placed or time.monotonic()) - self.started
        verdicts = sorted(self.latencies)
        places = sorted(self.place_latencies)
        return {
            "orders": self.total,
            "placed": self.placed,
            "validated": self.validated,
            "failed": self.failed,
            "failed_by_check": dict(sorted(self.failed_by_check.items())),
            "paid": self.paid,
            "shipped": self.shipped,
            "cancelled": self.cancelled,
            "final_states": dict(sorted(self.final_states.items())),
            "customers": self.customers,
            "rejected": self.rejected,
            "errors": self.errors,
            "unexpected": self.unexpected,
            "elapsed_s": round(elapsed, 3),
            # Placed per second while placing (not while waiting for the last verdicts).
            "rate_per_s": round(self.placed / placing, 2) if placing > 0 else 0.0,
            "verdict_latency_ms": {f"p{p}": round(percentile(verdicts, p) * 1000, 1) for p in (50, 95, 99)},
            "place_latency_ms": {f"p{p}": round(percentile(places, p) * 1000, 1) for p in (50, 95, 99)},
        }

    def line(self) -> str:
        s = self.snapshot()
        by_check = ", ".join(f"{k} {v}" for k, v in s["failed_by_check"].items())
        latency = s["verdict_latency_ms"]
        text = (
            f"placed {s['placed']}/{s['orders']}  validated {s['validated']}  "
            f"failed {s['failed']}{f' ({by_check})' if by_check else ''}  paid {s['paid']}  "
            f"shipped {s['shipped']}  cancelled {s['cancelled']}  rejected {s['rejected']}  "
            f"errors {s['errors']}  {s['rate_per_s']:.1f}/s  "
            f"latency p50 {latency['p50']:.0f} ms p95 {latency['p95']:.0f} ms p99 {latency['p99']:.0f} ms"
        )
        if s["unexpected"]:
            text += f"  UNEXPECTED {s['unexpected']}"
        return text


def _as_expected(kind: str, order: Order) -> bool:
    if kind == GOOD:
        return order.state == OrderState.ORDER_STATE_VALIDATED
    if order.state != OrderState.ORDER_STATE_FAILED:
        return False
    wanted = set(EXPECTED_FAILED_CHECKS[kind])
    if kind == BAD_DETAILS and order.quantity <= 0:
        wanted.add(CheckType.CHECK_TYPE_INVENTORY)
    return any(c.check_type in wanted and c.result == CheckResult.CHECK_RESULT_FAIL for c in order.checks)


async def _one(client: AsyncOmsClient, order: Planned, progress: Progress, config: DemoConfig) -> None:
    start = time.monotonic()
    try:
        placed = await client.place_order(
            order_id=order.order_id,
            customer_id=order.customer_id,
            product=order.product,
            quantity=order.quantity,
            price=order.price,
        )
    except InvalidArgument as error:
        progress.rejected += 1
        if order.kind != REJECTED:
            progress.unexpected += 1
            progress.last_error = f"{order.order_id}: {error.describe()}"
        return
    except OmsError as error:
        progress.errors += 1
        progress.last_error = f"{order.order_id}: {error.describe()}"
        return
    progress.placed += 1
    progress.last_placed = time.monotonic()
    progress.place_latencies.append(progress.last_placed - start)
    if order.kind == REJECTED:
        progress.unexpected += 1
    try:
        after = placed.position if placed.HasField("position") else None
        final = await client.wait_for_terminal(order.order_id, after=after, timeout=config.verdict_timeout)
    except OmsError as error:
        progress.errors += 1
        progress.last_error = f"{order.order_id}: {error.describe()}"
        return
    progress.latencies.append(time.monotonic() - start)
    if final.state == OrderState.ORDER_STATE_VALIDATED:
        progress.validated += 1
    else:
        progress.failed += 1
        failing = [c for c in final.checks if c.result == CheckResult.CHECK_RESULT_FAIL]
        for check in failing:
            progress.failed_by_check[check_type_name(check.check_type).lower().replace("_", "-")] += 1
        if not failing:  # a check that erred or timed out
            progress.failed_by_check["other"] += 1
    if order.kind != REJECTED and not _as_expected(order.kind, final):
        progress.unexpected += 1
        progress.last_error = f"{order.order_id} ({order.kind}) ended {state_name(final.state)}"
    elif final.state == OrderState.ORDER_STATE_VALIDATED:
        try:
            final = await _meet_fate(client, order, final, progress)
        except OmsError as error:
            progress.errors += 1
            progress.last_error = f"{order.order_id} ({order.fate}): {error.describe()}"
            return
        if final.state != order.should_end:
            progress.unexpected += 1
            progress.last_error = f"{order.order_id} ({order.fate}) ended {state_name(final.state)}"
    progress.final_states[state_name(final.state)] += 1


async def _meet_fate(client: AsyncOmsClient, order: Planned, final: Order, progress: Progress) -> Order:
    """Pays, ships or cancels a VALIDATED order as its fate says; the order after."""
    if order.fate in (SHIP, PAID):
        await client.record_payment(order_id=order.order_id, amount=order.amount, payment_id=f"pay-{order.order_id}")
        progress.paid += 1
    if order.fate == SHIP:
        final = (await client.ship_order(order.order_id)).order
        progress.shipped += 1
    elif order.fate == CANCEL:
        final = (await client.cancel_order(order.order_id, reason="the customer changed their mind")).order
        progress.cancelled += 1
    return final


async def _register(client: AsyncOmsClient, customers: list[tuple[int, int]], run_id: str) -> None:
    slots = asyncio.Semaphore(50)

    async def one(n: int, customer_id: int, level: int) -> None:
        async with slots:
            await client.upsert_customer(
                customer_id=customer_id,
                first_name=FIRST_NAMES[n % len(FIRST_NAMES)],
                last_name=LAST_NAMES[(n // len(FIRST_NAMES)) % len(LAST_NAMES)],
                email=f"demo-{run_id}-{customer_id}@example.com",
                address=f"{n + 1} Demo Street",
                level=level,
            )

    await asyncio.gather(*(one(n, c, level) for n, (c, level) in enumerate(customers)))


async def _report(progress: Progress, out: Output, stop: asyncio.Event) -> None:
    tty = not out.as_json and out.out.isatty()
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 0.25 if tty else 1.0)
        except TimeoutError:
            pass
        if out.as_json:
            continue
        if tty:
            print(f"\r\033[K{progress.line()}", end="", file=out.out, flush=True)
        elif not stop.is_set():
            print(progress.line(), file=out.out, flush=True)
    if tty:
        print(file=out.out, flush=True)


async def run(config: DemoConfig, out: Output) -> int:
    rng = random.Random(config.seed)
    run_id = uuid.uuid4().hex[:8]  # new ids and products every run, whatever the seed
    orders = plan(config, run_id, rng)
    security = config.security
    async with AsyncOmsClient(
        config.target,
        timeout=config.timeout,
        token=security.get("token"),
        ca=security.get("ca"),
        cert=security.get("cert"),
        key=security.get("key"),
    ) as client:
        stocked = [f"{p}-{run_id}" for p in STOCKED]
        customers = customers_of(orders)
        if not out.as_json:
            print(
                f"oms demo {run_id}: {config.count} orders at {config.rate:g}/s against {config.target}; "
                f"registering {len(customers)} customers (every level); "
                f"stocking {', '.join(stocked)} and {SCARCE}-{run_id} ({SCARCE_STOCK})",
                file=out.out,
                flush=True,
            )
        try:
            await _register(client, customers, run_id)
            await asyncio.gather(
                *(client.set_stock(p, config.count * 25 + 100) for p in stocked),
                client.set_stock(f"{SCARCE}-{run_id}", SCARCE_STOCK),
            )
        except OmsError as error:
            out.error(error)
            return 1
        progress = Progress(total=config.count, customers=len(customers))
        stop = asyncio.Event()
        reporter = asyncio.create_task(_report(progress, out, stop))
        slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        tasks: set[asyncio.Task[None]] = set()

        async def bounded(order: Planned) -> None:
            try:
                await _one(client, order, progress, config)
            finally:
                slots.release()

        try:
            for n, order in enumerate(orders):
                delay = progress.started + n / config.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await slots.acquire()
                task = asyncio.create_task(bounded(order))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            stop.set()
            await reporter
            for task in tasks:
                task.cancel()
    summary = progress.snapshot()
    if out.as_json:
        print(json.dumps({"run": run_id, **summary}), file=out.out, flush=True)
    else:
        print(f"done: {progress.line()}", file=out.out, flush=True)
        states = "  ".join(f"{state} {n}" for state, n in summary["final_states"].items())
        print(f"final states: {states}  (customers {progress.customers})", file=out.out, flush=True)
        place = summary["place_latency_ms"]
        print(
            f"PlaceOrder latency p50 {place['p50']:.0f} ms p95 {place['p95']:.0f} ms p99 {place['p99']:.0f} ms",
            file=out.out,
            flush=True,
        )
    if progress.last_error and (progress.errors or progress.unexpected):
        print(f"oms demo: last problem: {progress.last_error}", file=sys.stderr, flush=True)
    return 1 if progress.errors or progress.unexpected else 0
