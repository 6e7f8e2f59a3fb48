"""Every service is killed (-9) and restarted while orders are in flight.

Afterwards no order is lost, none has two verdicts, no check answered twice,
and reservations add up. The counts are printed."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator

import grpc
import pytest

from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import events_pb2, order_pb2
from tests.support.orders import eventually, final_state, order_events, place, read_topic, set_stock, unique
from tests.support.platform import Platform

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ORDERS_PER_PLACER = 60
PLACERS = 4


@pytest.fixture()
def platform(bootstrap: str, tmp_path: object) -> Iterator[Platform]:
    running = Platform(bootstrap, tmp_path).start()  # type: ignore[arg-type]
    yield running
    running.stop()


def place_until_accepted(platform: Platform, product: str, order_id: str, price: float) -> None:
    """A client that retries through outages, relying on idempotent ids."""
    deadline = time.monotonic() + 120
    while True:
        try:
            place(platform, product, quantity=1, price=price, order_id=order_id)
            return
        except grpc.RpcError as error:
            if error.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_crashes_lose_nothing_and_count_nothing_twice(platform: Platform) -> None:
    products = [unique("P") for _ in range(3)]
    for product in products:
        set_stock(platform, product, 10_000)
    placed: dict[str, str] = {}
    lock = threading.Lock()

    def placer(index: int) -> None:
        for n in range(ORDERS_PER_PLACER):
            order_id = unique(f"r{index}")
            product = products[n % len(products)]
            # One order in ten fails its details check, so reservations are released too.
            place_until_accepted(platform, product, order_id, price=-1.0 if n % 10 == 0 else 1.0)
            with lock:
                placed[order_id] = product

    threads = [threading.Thread(target=placer, args=(i,)) for i in range(PLACERS)]
    for thread in threads:
        thread.start()
    for victim in ("fraud-0", "inventory-0", "aggregator-0", "order-details-0", "gateway-0"):
        time.sleep(1.5)
        platform.kill(victim)
        time.sleep(0.5)
        platform.supervise()
        if victim == "gateway-0":
            platform.wait_serving()
    for thread in threads:
        thread.join(timeout=180)
    assert len(placed) == PLACERS * ORDERS_PER_PLACER

    finals = {order_id: final_state(platform, order_id, timeout_s=60) for order_id in placed}

    events = order_events(platform.bootstrap, platform.settings.topic("orders"))
    kinds = defaultdict(Counter)
    for event in events:
        kinds[event.order_id][event.WhichOneof("kind")] += 1
    validations = Counter(
        (v.order_id, v.outcome.check_type)
        for v in (
            events_pb2.OrderValidation.FromString(value)
            for _, value in read_topic(platform.bootstrap, platform.settings.topic("order-validations"))
        )
    )
    validated = [i for i, o in finals.items() if o.state == order_pb2.ORDER_STATE_VALIDATED]
    print(
        f"\norders placed {len(placed)}, validated {len(validated)}, failed {len(placed) - len(validated)}, "
        f"order events {len(events)}, validations {sum(validations.values())}"
    )
    assert set(kinds) == set(placed), "an order was lost or one appeared from nowhere"
    for order_id, counts in kinds.items():
        assert counts["placed"] == 1, f"{order_id} placed {counts['placed']} times"
        assert counts["validated"] + counts["failed"] == 1, f"{order_id} has verdicts {dict(counts)}"
    assert max(validations.values()) == 1, f"a check answered twice: {validations.most_common(3)}"
    assert len(validated) == len(placed) - len(placed) // 10
    for product in products:
        expected = sum(1 for i in validated if placed[i] == product)
        eventually(
            lambda: platform.inventory.GetStock(inventory_pb2.GetStockRequest(product=product), timeout=5).stock.reserved
            == expected,
            what=f"reservations of {product} == {expected}",
        )
