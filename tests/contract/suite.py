"""The contract: what every oms server answers, the platform and the SDK's
fake (oms_client.testing.FakeOms) alike. Each test takes a `client`
(an OmsClient) from the module that runs the suite:
tests/contract/test_contract_fake.py (the fake, in the unit suite) and
tests/e2e/test_contract_platform.py (the platform on the real broker). The
same calls and assertions on both, so the fake cannot drift from the
platform unnoticed.

Effects the platform applies asynchronously (a verdict, stock released) are
awaited with `eventually`; everything else is asserted on the answer."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import grpc
import pytest

from oms_client import OmsClient
from oms_client._gen.orders.v1 import query_service_pb2, query_service_pb2_grpc
from oms_client.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, from_rpc_error
from oms_client.types import Order, OrderEventKind, OrderState, ProductStock

__all__ = [
    "test_a_customer_watch_sees_each_change_and_resumes_after_a_token",
    "test_bytes_that_are_no_message_are_an_invalid_argument",
    "test_cancel_a_validated_order_releases_its_stock_once",
    "test_closed_orders_refuse_what_their_state_forbids",
    "test_history_lists_each_change_oldest_first",
    "test_list_pages_are_newest_first_filtered_and_complete",
    "test_page_tokens_are_tamper_evident_and_bound_to_their_filters",
    "test_payments_are_idempotent_by_id",
    "test_placement_is_idempotent_by_order_id",
    "test_ship_needs_validation_and_full_payment_and_takes_stock_for_good",
    "test_unknown_things_are_not_found_with_their_resource",
    "test_validation_names_every_bad_field",
]

VALIDATED = OrderState.ORDER_STATE_VALIDATED
FAILED = OrderState.ORDER_STATE_FAILED
CANCELLED = OrderState.ORDER_STATE_CANCELLED
SHIPPED = OrderState.ORDER_STATE_SHIPPED
WAIT_S = 60.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def customer() -> int:
    return uuid.uuid4().int % 10**12 + 1


def eventually(condition: Callable[[], object], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s}s")
        time.sleep(0.1)


def stocked(client: OmsClient, units: int = 10) -> str:
    product = unique("P")
    client.set_stock(product, units)
    return product


def decided(client: OmsClient, product: str, quantity: int = 1, price: float = 10.0) -> Order:
    placed = client.place_order(customer_id=customer(), product=product, quantity=quantity, price=price)
    return client.wait_for_terminal(placed.order.order_id, timeout=WAIT_S)


def stock_is(client: OmsClient, product: str, quantity: int, reserved: int) -> Callable[[], bool]:
    def now() -> bool:
        stock: ProductStock = client.get_stock(product)
        return (stock.quantity, stock.reserved) == (quantity, reserved)

    return now


def test_placement_is_idempotent_by_order_id(client: OmsClient) -> None:
    product, order_id, buyer = stocked(client), unique("o"), customer()
    first = client.place_order(order_id=order_id, customer_id=buyer, product=product, quantity=2, price=5.0)
    assert first.created and first.order.order_id == order_id and first.HasField("position")
    again = client.place_order(order_id=order_id, customer_id=buyer, product=product, quantity=2, price=5.0)
    assert not again.created
    assert (again.order.customer_id, again.order.product, again.order.quantity) == (buyer, product, 2)
    with pytest.raises(AlreadyExists) as reused:
        client.place_order(order_id=order_id, customer_id=buyer, product=product, quantity=3, price=5.0)
    assert reused.value.reason == "ORDER_ID_REUSED"
    assert reused.value.metadata == {"order_id": order_id}


def test_validation_names_every_bad_field(client: OmsClient) -> None:
    with pytest.raises(InvalidArgument) as bad_order:
        client.place_order(order_id="no spaces", customer_id=0, product="", quantity=1, price=float("nan"))
    assert {v.field for v in bad_order.value.field_violations} == {"order_id", "customer_id", "product", "price"}
    with pytest.raises(InvalidArgument) as bad_stock:
        client.set_stock(unique("P"), -1)
    assert [v.field for v in bad_stock.value.field_violations] == ["quantity"]
    with pytest.raises(InvalidArgument) as bad_payment:
        client.record_payment(order_id=unique("o"), amount=-1.0, currency="eur")
    assert {v.field for v in bad_payment.value.field_violations} == {"amount", "currency"}
    with pytest.raises(InvalidArgument) as bad_cancel:
        client.cancel_order(unique("o"), reason="bell\x07")
    assert [v.field for v in bad_cancel.value.field_violations] == ["reason"]
    with pytest.raises(InvalidArgument) as bad_list:
        next(client.list_order_pages(customer_id=customer(), page_size=-1))
    assert [v.field for v in bad_list.value.field_violations] == ["page_size"]


def test_unknown_things_are_not_found_with_their_resource(client: OmsClient) -> None:
    order_id = unique("missing")
    for call in (client.get_order, client.cancel_order, client.ship_order, client.list_order_events):
        with pytest.raises(NotFound) as missing:
            call(order_id)
        assert (missing.value.resource_type, missing.value.resource_name) == ("order", order_id)
    product = unique("P")
    with pytest.raises(NotFound) as no_stock:
        client.get_stock(product)
    assert (no_stock.value.resource_type, no_stock.value.resource_name) == ("product", product)
    nobody = customer()
    with pytest.raises(NotFound) as no_customer:
        client.get_customer(nobody)
    assert (no_customer.value.resource_type, no_customer.value.resource_name) == ("customer", str(nobody))


def test_cancel_a_validated_order_releases_its_stock_once(client: OmsClient) -> None:
    product = stocked(client, 10)
    order = decided(client, product, quantity=3)
    assert order.state == VALIDATED
    eventually(stock_is(client, product, 10, 3), "3 units reserved")
    cancelled = client.cancel_order(order.order_id, reason="changed my mind")
    assert cancelled.changed and cancelled.order.state == CANCELLED
    again = client.cancel_order(order.order_id, reason="changed my mind")
    assert not again.changed and again.order.state == CANCELLED and again.order.version == cancelled.order.version
    eventually(stock_is(client, product, 10, 0), "the reservation released")
    with pytest.raises(FailedPrecondition) as refused:
        client.ship_order(order.order_id)
    assert "STATE" in refused.value.missing


def test_ship_needs_validation_and_full_payment_and_takes_stock_for_good(client: OmsClient) -> None:
    product = stocked(client, 10)
    order = decided(client, product, quantity=2, price=7.5)
    assert order.state == VALIDATED
    with pytest.raises(FailedPrecondition) as unpaid:
        client.ship_order(order.order_id)
    assert unpaid.value.missing == ("PAYMENT",)
    # Prices are in the shop's currency (EUR): 15 of another is not 15 paid.
    with pytest.raises(InvalidArgument) as foreign:
        client.record_payment(order_id=order.order_id, amount=15.0, currency="USD")
    assert [v.field for v in foreign.value.field_violations] == ["currency"]
    assert "EUR" in foreign.value.field_violations[0].description
    client.record_payment(order_id=order.order_id, amount=10.0)
    with pytest.raises(FailedPrecondition) as short:
        client.ship_order(order.order_id)
    assert short.value.missing == ("PAYMENT",)
    client.record_payment(order_id=order.order_id, amount=5.0)
    shipped = client.ship_order(order.order_id)
    assert shipped.changed and shipped.order.state == SHIPPED
    again = client.ship_order(order.order_id)
    assert not again.changed and again.order.state == SHIPPED
    eventually(stock_is(client, product, 8, 0), "2 units gone for good")
    with pytest.raises(FailedPrecondition) as too_late:
        client.cancel_order(order.order_id)
    assert too_late.value.missing == ("STATE",)


def test_closed_orders_refuse_what_their_state_forbids(client: OmsClient) -> None:
    failed = decided(client, unique("unstocked"))
    assert failed.state == FAILED
    with pytest.raises(FailedPrecondition) as cancel:
        client.cancel_order(failed.order_id)
    assert cancel.value.missing == ("STATE",)
    with pytest.raises(FailedPrecondition) as ship:
        client.ship_order(failed.order_id)
    assert set(ship.value.missing) == {"STATE", "PAYMENT"}


def test_history_lists_each_change_oldest_first(client: OmsClient) -> None:
    order = decided(client, stocked(client))
    client.cancel_order(order.order_id, reason="wrong size")
    events = client.list_order_events(order.order_id)
    assert [e.kind for e in events] == [
        OrderEventKind.ORDER_EVENT_KIND_PLACED,
        OrderEventKind.ORDER_EVENT_KIND_VALIDATED,
        OrderEventKind.ORDER_EVENT_KIND_CANCELLED,
    ]
    assert [e.version for e in events] == [1, 2, 3]
    assert [e.state for e in events] == [OrderState.ORDER_STATE_CREATED, VALIDATED, CANCELLED]
    assert events[2].reason == "wrong size"
    assert {c.result for c in events[1].checks} == {1}  # every check passed


def test_list_pages_are_newest_first_filtered_and_complete(client: OmsClient) -> None:
    buyer, product = customer(), stocked(client, 100)
    placed = []
    for _ in range(5):
        placed.append(client.place_order(customer_id=buyer, product=product, quantity=1, price=1.0).order.order_id)
        time.sleep(0.005)  # distinct placement times: newest first is then the reverse of placement
    for order_id in placed:
        client.wait_for_terminal(order_id, timeout=WAIT_S)
    client.cancel_order(placed[1])
    pages = list(client.list_order_pages(customer_id=buyer, page_size=2))
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [o.order_id for page in pages for o in page] == placed[::-1]
    cancelled = list(client.list_orders(customer_id=buyer, state="CANCELLED"))
    assert [o.order_id for o in cancelled] == [placed[1]]
    assert [o.state for o in cancelled] == [CANCELLED]
    by_product = list(client.list_orders(customer_id=buyer, product=product, state="VALIDATED", page_size=3))
    assert [o.order_id for o in by_product] == [placed[4], placed[3], placed[2], placed[0]]


def test_page_tokens_are_tamper_evident_and_bound_to_their_filters(client: OmsClient) -> None:
    buyer, product = customer(), stocked(client, 10)
    for _ in range(3):
        client.place_order(customer_id=buyer, product=product, quantity=1, price=1.0)
    queries = query_service_pb2_grpc.OrderQueryServiceStub(client.channel)

    def page(token: str, customer_id: int = buyer) -> query_service_pb2.ListOrdersResponse:
        """One page of a raw call: the SDK's list_orders hides its tokens."""
        request = query_service_pb2.ListOrdersRequest(customer_id=customer_id, page_size=1, page_token=token)
        try:
            response: query_service_pb2.ListOrdersResponse = queries.ListOrders(request, timeout=WAIT_S)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error
        return response

    token = page("").next_page_token
    assert token
    assert len(page(token).orders) == 1
    for forged in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "not-a-token", token + "x"):
        with pytest.raises(InvalidArgument) as refused:
            page(forged)
        assert [v.field for v in refused.value.field_violations] == ["page_token"]
    with pytest.raises(InvalidArgument) as foreign:
        page(token, customer_id=customer())
    assert [v.field for v in foreign.value.field_violations] == ["page_token"]


def test_payments_are_idempotent_by_id(client: OmsClient) -> None:
    order = decided(client, stocked(client))
    payment_id = unique("pay")
    first = client.record_payment(payment_id=payment_id, order_id=order.order_id, amount=4.0)
    assert first.created and first.payment.payment_id == payment_id
    again = client.record_payment(payment_id=payment_id, order_id=order.order_id, amount=4.0)
    assert not again.created and again.payment.amount == 4.0
    with pytest.raises(AlreadyExists) as reused:
        client.record_payment(payment_id=payment_id, order_id=order.order_id, amount=5.0)
    assert reused.value.reason == "PAYMENT_ID_REUSED"
    assert reused.value.metadata == {"payment_id": payment_id}


def test_a_customer_watch_sees_each_change_and_resumes_after_a_token(client: OmsClient) -> None:
    buyer, product = customer(), stocked(client)
    changes = client.watch_orders(buyer, timeout=WAIT_S)
    start = next(changes)
    assert not start.HasField("order") and start.resume_token
    order_id = client.place_order(customer_id=buyer, product=product, quantity=1, price=1.0).order.order_id
    client.wait_for_terminal(order_id, timeout=WAIT_S)
    client.cancel_order(order_id)
    seen = [next(changes) for _ in range(3)]
    changes.close()
    assert [c.kind for c in seen] == [
        OrderEventKind.ORDER_EVENT_KIND_PLACED,
        OrderEventKind.ORDER_EVENT_KIND_VALIDATED,
        OrderEventKind.ORDER_EVENT_KIND_CANCELLED,
    ]
    assert [(c.order.order_id, c.order.version) for c in seen] == [(order_id, 1), (order_id, 2), (order_id, 3)]
    resumed = client.watch_orders(buyer, resume_token=seen[0].resume_token, timeout=WAIT_S)
    again = [next(resumed) for _ in range(2)]
    resumed.close()
    assert [c.order.version for c in again] == [2, 3]


@pytest.mark.parametrize(
    "method", ["oms.orders.v1.OrderCommandService/PlaceOrder", "oms.orders.v1.OrderQueryService/WatchOrder"]
)
def test_bytes_that_are_no_message_are_an_invalid_argument(client: OmsClient, method: str) -> None:
    truncated = b"\x0a\x05ab"  # field 1, 5 bytes long, 2 given
    if method.endswith("WatchOrder"):
        call = client.channel.unary_stream(f"/{method}")
        with pytest.raises(grpc.RpcError) as refused:
            list(call(truncated, timeout=WAIT_S))
    else:
        with pytest.raises(grpc.RpcError) as refused:
            client.channel.unary_unary(f"/{method}")(truncated, timeout=WAIT_S)
    error = from_rpc_error(refused.value)
    assert isinstance(error, InvalidArgument)
    assert [v.field for v in error.field_violations] == ["request"]
