"""What must hold after any amount of crashing: the exactly-once audit."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import grpc

from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import events_pb2, order_pb2
from tests.support.orders import eventually, final_state, order_events, place, read_topic, unique_customer
from tests.support.platform import Platform


@dataclass
class PlacedOrders:
    """Orders a test placed, by id, with their product and quantity."""

    orders: dict[str, tuple[str, int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, order_id: str, product: str, quantity: int) -> None:
        with self.lock:
            self.orders[order_id] = (product, quantity)


def place_until_accepted(
    platform: Platform, product: str, order_id: str, price: float, quantity: int = 1, timeout_s: float = 120.0
) -> None:
    """A client that retries through outages and shed calls (a workflow
    catching up after a crash may be far enough behind for PlaceOrder to be
    shed), relying on idempotent ids: every attempt sends the same request,
    so a retry of a write that did land is answered with the order, not
    ALREADY_EXISTS."""
    customer_id = unique_customer()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            place(platform, product, quantity=quantity, price=price, customer_id=customer_id, order_id=order_id)
            return
        except grpc.RpcError as error:
            if error.code() not in (
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.DEADLINE_EXCEEDED,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
            ):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def audit(platform: Platform, placed: PlacedOrders, settle_s: float = 90.0) -> dict[str, int]:
    """Asserts the exactly-once invariants; returns the counts for the log."""
    finals = {order_id: final_state(platform, order_id, timeout_s=settle_s) for order_id in placed.orders}
    events = order_events(platform.bootstrap, platform.settings.topic("orders"))
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for event in events:
        kinds[event.order_id][event.WhichOneof("kind") or ""] += 1
    validations = Counter(
        (v.order_id, v.outcome.check_type)
        for v in (
            events_pb2.OrderValidation.FromString(value)
            for _, value in read_topic(
                platform.bootstrap, platform.settings.topic("order-validations"), range(platform.settings.partitions)
            )
            if value
        )
    )
    validated = {i for i, o in finals.items() if o.state == order_pb2.ORDER_STATE_VALIDATED}

    assert set(kinds) == set(placed.orders), "an order was lost, or one appeared from nowhere"
    for order_id, counts in kinds.items():
        assert counts["placed"] == 1, f"{order_id} placed {counts['placed']} times"
        assert counts["validated"] + counts["failed"] == 1, f"{order_id} has verdicts {dict(counts)}"
    assert max(validations.values()) == 1, f"a check answered twice: {validations.most_common(3)}"
    for product in {p for p, _ in placed.orders.values()}:
        expected = sum(q for i, (p, q) in placed.orders.items() if p == product and i in validated)
        eventually(
            lambda product=product, expected=expected: (
                platform.inventory.GetStock(inventory_pb2.GetStockRequest(product=product), timeout=10).stock.reserved
                == expected
            ),
            timeout_s=60,
            what=f"reservations of {product} == {expected}",
        )
    return {
        "orders": len(placed.orders),
        "validated": len(validated),
        "failed": len(placed.orders) - len(validated),
        "order events": len(events),
        "validations": sum(validations.values()),
    }
