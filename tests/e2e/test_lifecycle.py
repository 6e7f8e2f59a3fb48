"""An order's whole life through the public gRPC API on the real broker:
cancel and ship (and every refusal), the stock they leave, a cancel that
races the checks, and the history after a crash."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import command_service_pb2, events_pb2, order_pb2, query_service_pb2
from oms.payments.v1 import payments_pb2
from tests.support.orders import eventually, final_state, order_events, place, rpc_error, set_stock, unique
from tests.support.platform import Platform

pytestmark = pytest.mark.kafka

CREATED = order_pb2.ORDER_STATE_CREATED
VALIDATED = order_pb2.ORDER_STATE_VALIDATED
FAILED = order_pb2.ORDER_STATE_FAILED
CANCELLED = order_pb2.ORDER_STATE_CANCELLED
SHIPPED = order_pb2.ORDER_STATE_SHIPPED
KIND = query_service_pb2


@pytest.fixture(scope="module")
def platform(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(bootstrap, tmp_path_factory.mktemp("lifecycle")).start()
    yield running
    running.stop()


def cancel(platform: Platform, order_id: str, reason: str = "") -> command_service_pb2.CancelOrderResponse:
    request = command_service_pb2.CancelOrderRequest(order_id=order_id, reason=reason)
    return platform.commands.CancelOrder(request, timeout=30)


def ship(platform: Platform, order_id: str) -> command_service_pb2.ShipOrderResponse:
    return platform.commands.ShipOrder(command_service_pb2.ShipOrderRequest(order_id=order_id), timeout=30)


def pay(platform: Platform, order_id: str, amount: float) -> None:
    request = payments_pb2.RecordPaymentRequest(
        payment_id=unique("pay"), order_id=order_id, currency="EUR", amount=amount
    )
    platform.payments.RecordPayment(request, timeout=15)


def history(platform: Platform, order_id: str) -> list[query_service_pb2.OrderHistoryEvent]:
    request = query_service_pb2.ListOrderEventsRequest(order_id=order_id)
    return list(platform.queries.ListOrderEvents(request, timeout=15).events)


def stock(platform: Platform, product: str) -> tuple[int, int]:
    level = platform.inventory.GetStock(inventory_pb2.GetStockRequest(product=product), timeout=5).stock
    return level.quantity, level.reserved


def refusal(error: grpc.RpcError) -> list[str]:
    """The types of the unmet preconditions a FAILED_PRECONDITION names."""
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION, error
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    failure = error_details_pb2.PreconditionFailure()
    assert status.details[0].Unpack(failure)
    return [v.type for v in failure.violations]


def test_a_validated_order_is_cancelled_once_its_stock_released_and_then_refuses_shipment(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 10)
    order_id = place(platform, product, quantity=3).order.order_id
    assert final_state(platform, order_id).state == VALIDATED
    eventually(lambda: stock(platform, product) == (10, 3), what="the reservation")

    cancelled = cancel(platform, order_id, reason="found it cheaper")
    again = cancel(platform, order_id, reason="again")

    assert (cancelled.order.state, cancelled.order.version, cancelled.changed) == (CANCELLED, 3, True)
    assert cancelled.HasField("position")
    assert (again.order, again.changed, again.HasField("position")) == (cancelled.order, False, False)
    eventually(lambda: stock(platform, product) == (10, 0), what="the reservation released")
    assert refusal(rpc_error(lambda: ship(platform, order_id))) == ["STATE", "PAYMENT"]
    events = history(platform, order_id)
    assert [(e.version, e.kind) for e in events] == [
        (1, KIND.ORDER_EVENT_KIND_PLACED),
        (2, KIND.ORDER_EVENT_KIND_VALIDATED),
        (3, KIND.ORDER_EVENT_KIND_CANCELLED),
    ]
    assert events[2].reason == "found it cheaper" and len(events[1].checks) == 3
    # A GetOrder passing the cancel's position back reads it.
    got = platform.queries.GetOrder(
        query_service_pb2.GetOrderRequest(order_id=order_id, min_position=cancelled.position), timeout=5
    )
    assert got.order.state == CANCELLED


def test_an_order_ships_once_validated_and_paid_in_full_and_its_units_leave_stock(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 10)
    order_id = place(platform, product, quantity=2, price=0.15).order.order_id  # 0.30
    assert final_state(platform, order_id).state == VALIDATED

    assert refusal(rpc_error(lambda: ship(platform, order_id))) == ["PAYMENT"]
    pay(platform, order_id, 0.1)
    assert refusal(rpc_error(lambda: ship(platform, order_id))) == ["PAYMENT"]
    pay(platform, order_id, 0.2)  # 0.1 + 0.2: 30 cents in full
    shipped = ship(platform, order_id)
    again = ship(platform, order_id)

    assert (shipped.order.state, shipped.order.version, shipped.changed) == (SHIPPED, 3, True)
    assert (again.order.state, again.changed) == (SHIPPED, False)
    eventually(lambda: stock(platform, product) == (8, 0), what="the units leaving stock")
    assert refusal(rpc_error(lambda: cancel(platform, order_id))) == ["STATE"]
    assert stock(platform, product) == (8, 0)
    assert [e.kind for e in history(platform, order_id)][-1] == KIND.ORDER_EVENT_KIND_SHIPPED


def test_a_failed_order_cannot_be_cancelled_nor_shipped_and_an_unknown_one_is_not_found(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 1)
    order_id = place(platform, product, quantity=5).order.order_id
    assert final_state(platform, order_id).state == FAILED

    assert refusal(rpc_error(lambda: cancel(platform, order_id))) == ["STATE"]
    assert "STATE" in refusal(rpc_error(lambda: ship(platform, order_id)))
    assert rpc_error(lambda: cancel(platform, unique("nobody"))).code() is grpc.StatusCode.NOT_FOUND
    assert rpc_error(lambda: ship(platform, unique("nobody"))).code() is grpc.StatusCode.NOT_FOUND
    assert rpc_error(lambda: cancel(platform, "bad id")).code() is grpc.StatusCode.INVALID_ARGUMENT


def test_cancels_that_race_the_checks_release_every_reservation_and_no_verdict_follows(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 100)

    def place_and_cancel(_n: int) -> command_service_pb2.CancelOrderResponse:
        return cancel(platform, place(platform, product, quantity=2).order.order_id, reason="at once")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(place_and_cancel, range(16)))

    assert {a.order.state for a in answers} == {CANCELLED}
    # Some were cancelled while their checks still ran (version 2: no verdict came first).
    assert any(a.order.version == 2 for a in answers), [a.order.version for a in answers]
    eventually(lambda: stock(platform, product) == (100, 0), what="every reservation released")
    ids = {a.order.order_id for a in answers}
    events = [e for e in order_events(platform.bootstrap, platform.namespace + "orders") if e.order_id in ids]
    by_order: dict[str, list[events_pb2.OrderEvent]] = {}
    for event in events:
        by_order.setdefault(event.order_id, []).append(event)
    for order_id, written in by_order.items():
        kinds = [e.WhichOneof("kind") for e in written]
        assert kinds[-1] == "cancelled" and kinds.count("cancelled") == 1, (order_id, kinds)
        assert [e.version for e in written] == list(range(1, len(written) + 1)), (order_id, kinds)


def test_history_and_open_orders_survive_kill_9_of_the_gateway_and_the_aggregator(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 10)
    shipped_id = place(platform, product, quantity=1, price=2.0).order.order_id
    open_id = place(platform, product, quantity=1).order.order_id
    assert final_state(platform, shipped_id).state == VALIDATED
    assert final_state(platform, open_id).state == VALIDATED
    pay(platform, shipped_id, 2.0)
    ship(platform, shipped_id)
    before = history(platform, shipped_id)

    victims = ("gateway-0", platform.process_of("aggregator"))
    old = {name: platform.supervisor.pids()[name] for name in victims}
    for victim in victims:
        platform.kill(victim)

    def restarted() -> bool:
        now = platform.supervisor.pids()
        return all(name in now and now[name] != old[name] for name in victims)

    eventually(restarted, timeout_s=30, what="both restarted")
    platform.wait_serving()

    assert history(platform, shipped_id) == before
    assert [e.kind for e in before] == [
        KIND.ORDER_EVENT_KIND_PLACED,
        KIND.ORDER_EVENT_KIND_VALIDATED,
        KIND.ORDER_EVENT_KIND_SHIPPED,
    ]
    # The restarted aggregator still holds the open order's snapshot (its changelog).
    assert cancel(platform, open_id).order.version == 3
    eventually(lambda: stock(platform, product) == (9, 0), what="the cancelled order's release")


def test_watch_until_closed_follows_an_order_past_validated_to_its_end(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 10)
    order_id = place(platform, product).order.order_id
    assert final_state(platform, order_id).state == VALIDATED
    stream = platform.queries.WatchOrder(
        query_service_pb2.WatchOrderRequest(order_id=order_id, until_closed=True), timeout=30
    )
    first = next(stream)

    cancel(platform, order_id)

    assert first.order.state == VALIDATED
    assert [u.order.state for u in stream] == [CANCELLED]
    assert [
        u.order.state
        for u in platform.queries.WatchOrder(query_service_pb2.WatchOrderRequest(order_id=order_id), timeout=10)
    ] == [CANCELLED]
    assert CREATED not in {e.state for e in history(platform, order_id)[1:]}
