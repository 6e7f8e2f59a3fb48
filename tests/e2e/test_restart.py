"""Every service is killed (-9) and restarted while orders are in flight, in
each layout (OMS_LAYOUT: the workflow in one process, or in one each).

Afterwards no order is lost, none has two verdicts, no check answered twice,
and reservations add up. The counts are printed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.invariants import PlacedOrders, audit, place_until_accepted
from tests.support.orders import set_stock, unique
from tests.support.platform import Platform

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ORDERS_PER_PLACER = 60
PLACERS = 4


@pytest.fixture(params=["combined", "separate"])
def platform(request: pytest.FixtureRequest, bootstrap: str, tmp_path: Path) -> Iterator[Platform]:
    running = Platform(bootstrap, tmp_path, env={"OMS_LAYOUT": request.param}).start()
    yield running
    running.stop()


def test_crashes_lose_nothing_and_count_nothing_twice(platform: Platform) -> None:
    products = [unique("P") for _ in range(3)]
    for product in products:
        set_stock(platform, product, 10_000)
    placed = PlacedOrders()

    def placer(index: int) -> None:
        for n in range(ORDERS_PER_PLACER):
            order_id, product = unique(f"r{index}"), products[n % len(products)]
            # One order in ten fails its details check, so reservations are released too.
            place_until_accepted(platform, product, order_id, price=-1.0 if n % 10 == 0 else 1.0)
            placed.add(order_id, product, 1)

    threads = [threading.Thread(target=placer, args=(i,)) for i in range(PLACERS)]
    for thread in threads:
        thread.start()
    # Every service of the layout, the gateway last.
    victims = sorted(name for name in platform.supervisor.pids() if name != "gateway-0")
    for victim in [*victims, "gateway-0"]:
        time.sleep(1.5)
        platform.kill(victim)
        time.sleep(0.5)
        platform.supervise()
        if victim == "gateway-0":
            platform.wait_serving()
    for thread in threads:
        thread.join(timeout=180)
    assert len(placed.orders) == PLACERS * ORDERS_PER_PLACER

    counts = audit(platform, placed)

    print(f"\nrestart test: {counts}")
    assert counts["validated"] == len(placed.orders) - len(placed.orders) // 10
