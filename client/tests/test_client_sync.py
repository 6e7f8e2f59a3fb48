"""OmsClient against scripted server behaviour, through grpc_testing's
channel: no sockets, no server. Each test calls the client on a worker
thread and plays the server on the test thread."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
import grpc_testing
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from oms_client import (
    AlreadyExists,
    DeadlineExceeded,
    FieldViolation,
    InvalidArgument,
    NotFound,
    OmsClient,
    OmsError,
    ResourceExhausted,
    RetryPolicy,
    Unavailable,
    Unimplemented,
)
from oms_client._gen.customers.v1 import customers_pb2
from oms_client._gen.deadletter.v1 import dead_letter_pb2, dead_letter_service_pb2
from oms_client._gen.inventory.v1 import inventory_pb2
from oms_client._gen.orders.v1 import command_service_pb2, order_pb2, query_service_pb2
from oms_client._gen.payments.v1 import payments_pb2

COMMANDS = command_service_pb2.DESCRIPTOR.services_by_name["OrderCommandService"]
QUERIES = query_service_pb2.DESCRIPTOR.services_by_name["OrderQueryService"]
INVENTORY = inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"]
CUSTOMERS = customers_pb2.DESCRIPTOR.services_by_name["CustomerService"]
PAYMENTS = payments_pb2.DESCRIPTOR.services_by_name["PaymentService"]
DEAD_LETTERS = dead_letter_service_pb2.DESCRIPTOR.services_by_name["DeadLetterService"]
PLACE = COMMANDS.methods_by_name["PlaceOrder"]
GET = QUERIES.methods_by_name["GetOrder"]
WATCH = QUERIES.methods_by_name["WatchOrder"]

CREATED, VALIDATED, FAILED = (
    order_pb2.ORDER_STATE_CREATED,
    order_pb2.ORDER_STATE_VALIDATED,
    order_pb2.ORDER_STATE_FAILED,
)
T = TypeVar("T")


def status_metadata(code: int, message: str, *details: Any) -> tuple[tuple[str, bytes], ...]:
    packed = []
    for detail in details:
        item = any_pb2.Any()
        item.Pack(detail)
        packed.append(item)
    return tuple(rpc_status.to_status(status_pb2.Status(code=code, message=message, details=packed)).trailing_metadata)


def retry_info(seconds: float) -> error_details_pb2.RetryInfo:
    info = error_details_pb2.RetryInfo()
    info.retry_delay.FromMilliseconds(int(seconds * 1000))
    return info


class Harness:
    def __init__(self, retry: RetryPolicy | None = None, timeout: float = 30.0) -> None:
        self.channel = grpc_testing.channel(
            [COMMANDS, QUERIES, INVENTORY, CUSTOMERS, PAYMENTS, DEAD_LETTERS], grpc_testing.strict_real_time()
        )
        self.sleeps: list[float] = []
        self.client = OmsClient(
            "test", channel=self.channel, retry=retry or RetryPolicy(), timeout=timeout, sleep=self.sleeps.append
        )
        self._pool = ThreadPoolExecutor(1)

    def call(self, fn: Callable[[], T]) -> Future[T]:
        return self._pool.submit(fn)

    def unary(self, method: Any) -> tuple[Any, Any]:
        _, request, rpc = self.channel.take_unary_unary(method)
        return request, rpc

    def stream(self) -> tuple[Any, Any]:
        _, request, rpc = self.channel.take_unary_stream(WATCH)
        return request, rpc

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@pytest.fixture
def oms() -> Iterator[Harness]:
    harness = Harness(retry=RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05, jitter=0))
    yield harness
    harness.close()


def order(order_id: str, state: int, version: int) -> order_pb2.Order:
    return order_pb2.Order(
        order_id=order_id, customer_id=42, product="JUMPERS", quantity=2, price=12.5, state=state, version=version
    )  # type: ignore[arg-type]


def placed(
    request: command_service_pb2.PlaceOrderRequest, created: bool = True
) -> command_service_pb2.PlaceOrderResponse:
    return command_service_pb2.PlaceOrderResponse(
        order=order(request.order_id, CREATED, 1),
        position=command_service_pb2.LogPosition(partition=1, offset=7),
        created=created,
    )


def place(harness: Harness, **overrides: Any) -> Future[command_service_pb2.PlaceOrderResponse]:
    fields: dict[str, Any] = {"customer_id": 42, "product": "JUMPERS", "quantity": 2, "price": 12.5, **overrides}
    return harness.call(lambda: harness.client.place_order(**fields))


# -- PlaceOrder: idempotency key and retries


def test_place_order_generates_an_idempotency_key(oms: Harness) -> None:
    future = place(oms)
    request, rpc = oms.unary(PLACE)
    rpc.terminate(placed(request), (), grpc.StatusCode.OK, "")

    assert re.fullmatch(r"order-[0-9a-f]{32}", request.order_id)
    assert (request.customer_id, request.product, request.quantity, request.price) == (42, "JUMPERS", 2, 12.5)
    result = future.result(timeout=5)
    assert result.created and result.order.order_id == request.order_id and result.position.offset == 7


def test_each_order_gets_its_own_key_and_a_given_key_is_kept(oms: Harness) -> None:
    keys = []
    for given in (None, None, "order-1001"):
        future = place(oms, order_id=given)
        request, rpc = oms.unary(PLACE)
        rpc.terminate(placed(request), (), grpc.StatusCode.OK, "")
        future.result(timeout=5)
        keys.append(request.order_id)
    assert keys[0] != keys[1] and keys[2] == "order-1001"


def test_place_order_retries_unavailable_with_the_same_key_and_backoff(oms: Harness) -> None:
    future = place(oms)
    requests = []
    for _ in range(2):
        request, rpc = oms.unary(PLACE)
        requests.append(request)
        rpc.terminate(command_service_pb2.PlaceOrderResponse(), (), grpc.StatusCode.UNAVAILABLE, "broker down")
    request, rpc = oms.unary(PLACE)
    requests.append(request)
    rpc.terminate(placed(request, created=False), (), grpc.StatusCode.OK, "")

    result = future.result(timeout=5)
    assert len({r.order_id for r in requests}) == 1, "every retry must carry the first attempt's order id"
    assert all(r == requests[0] for r in requests)
    assert result.order.order_id == requests[0].order_id
    assert oms.sleeps == [0.01, 0.02]  # exponential backoff between the three attempts


def test_a_retry_waits_at_least_what_the_server_asks(oms: Harness) -> None:
    future = place(oms)
    request, rpc = oms.unary(PLACE)
    rpc.terminate(
        command_service_pb2.PlaceOrderResponse(),
        status_metadata(code_pb2.UNAVAILABLE, "try later", retry_info(1.5)),
        grpc.StatusCode.UNAVAILABLE,
        "try later",
    )
    request, rpc = oms.unary(PLACE)
    rpc.terminate(placed(request), (), grpc.StatusCode.OK, "")
    future.result(timeout=5)
    assert oms.sleeps == [1.5]


def test_a_shed_call_is_retried_after_the_servers_delay_and_a_bare_resource_exhausted_is_not(oms: Harness) -> None:
    future = place(oms)
    request, rpc = oms.unary(PLACE)
    overloaded = error_details_pb2.ErrorInfo(reason="OVERLOADED", domain="oms")
    rpc.terminate(
        command_service_pb2.PlaceOrderResponse(),
        status_metadata(code_pb2.RESOURCE_EXHAUSTED, "busy", overloaded, retry_info(0.5)),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "busy",
    )
    request, rpc = oms.unary(PLACE)
    rpc.terminate(placed(request), (), grpc.StatusCode.OK, "")
    future.result(timeout=5)
    assert oms.sleeps == [0.5]

    future = place(oms)
    _, rpc = oms.unary(PLACE)
    rpc.terminate(command_service_pb2.PlaceOrderResponse(), (), grpc.StatusCode.RESOURCE_EXHAUSTED, "quota")
    with pytest.raises(ResourceExhausted):
        future.result(timeout=5)
    assert oms.sleeps == [0.5]


def test_place_order_gives_up_after_max_attempts(oms: Harness) -> None:
    future = place(oms)
    for _ in range(4):
        _, rpc = oms.unary(PLACE)
        rpc.terminate(command_service_pb2.PlaceOrderResponse(), (), grpc.StatusCode.UNAVAILABLE, "broker down")

    with pytest.raises(Unavailable) as raised:
        future.result(timeout=5)
    assert raised.value.code == grpc.StatusCode.UNAVAILABLE and raised.value.message == "broker down"
    assert isinstance(raised.value.__cause__, grpc.RpcError)
    assert len(oms.sleeps) == 3


def test_no_retry_when_the_backoff_would_pass_the_deadline() -> None:
    harness = Harness(retry=RetryPolicy(initial_backoff=5.0, jitter=0), timeout=1.0)
    try:
        future = place(harness)
        _, rpc = harness.unary(PLACE)
        rpc.terminate(command_service_pb2.PlaceOrderResponse(), (), grpc.StatusCode.UNAVAILABLE, "down")
        with pytest.raises(Unavailable):
            future.result(timeout=5)
        assert harness.sleeps == []
    finally:
        harness.close()


def test_an_expired_deadline_raises_deadline_exceeded(oms: Harness) -> None:
    with pytest.raises(DeadlineExceeded) as raised:
        oms.client.get_order("order-1", timeout=0)
    assert raised.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    ],
)
def test_only_unavailable_is_retried(oms: Harness, code: grpc.StatusCode) -> None:
    future = place(oms)
    _, rpc = oms.unary(PLACE)
    rpc.terminate(command_service_pb2.PlaceOrderResponse(), (), code, "no")
    with pytest.raises(OmsError) as raised:
        future.result(timeout=5)
    assert raised.value.code == code and oms.sleeps == []


# -- errors with details


def test_invalid_argument_carries_its_field_violations(oms: Harness) -> None:
    bad = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field="customer_id", description="must be greater than 0"),
            error_details_pb2.BadRequest.FieldViolation(field="price", description="must be a finite number"),
        ]
    )
    message = "customer_id: must be greater than 0; price: must be a finite number"
    future = place(oms, customer_id=0, price=float("nan"))
    _, rpc = oms.unary(PLACE)
    rpc.terminate(
        command_service_pb2.PlaceOrderResponse(),
        status_metadata(code_pb2.INVALID_ARGUMENT, message, bad),
        grpc.StatusCode.INVALID_ARGUMENT,
        message,
    )

    with pytest.raises(InvalidArgument) as raised:
        future.result(timeout=5)
    error = raised.value
    assert error.field_violations == (
        FieldViolation("customer_id", "must be greater than 0"),
        FieldViolation("price", "must be a finite number"),
    )
    assert error.details == (bad,)
    assert str(error) == f"INVALID_ARGUMENT: {message} | bad fields: customer_id, price"
    assert error.to_dict()["details"][0]["@type"] == "google.rpc.BadRequest"


def test_already_exists_carries_its_error_info(oms: Harness) -> None:
    info = error_details_pb2.ErrorInfo(reason="ORDER_ID_REUSED", domain="oms", metadata={"order_id": "order-1"})
    message = "order order-1 was already placed with other content"
    future = place(oms, order_id="order-1")
    _, rpc = oms.unary(PLACE)
    rpc.terminate(
        command_service_pb2.PlaceOrderResponse(),
        status_metadata(code_pb2.ALREADY_EXISTS, message, info),
        grpc.StatusCode.ALREADY_EXISTS,
        message,
    )
    with pytest.raises(AlreadyExists) as raised:
        future.result(timeout=5)
    assert raised.value.reason == "ORDER_ID_REUSED" and raised.value.metadata == {"order_id": "order-1"}
    assert raised.value.describe() == f"ALREADY_EXISTS: {message} | error info: ORDER_ID_REUSED (oms) order_id=order-1"


def test_not_found_carries_its_resource(oms: Harness) -> None:
    info = error_details_pb2.ResourceInfo(
        resource_type="order", resource_name="order-9", description="no order order-9"
    )
    future = oms.call(lambda: oms.client.get_order("order-9"))
    request, rpc = oms.unary(GET)
    rpc.terminate(
        query_service_pb2.GetOrderResponse(),
        status_metadata(code_pb2.NOT_FOUND, "no order order-9", info),
        grpc.StatusCode.NOT_FOUND,
        "no order order-9",
    )
    with pytest.raises(NotFound) as raised:
        future.result(timeout=5)
    assert request.order_id == "order-9"
    assert (raised.value.resource_type, raised.value.resource_name) == ("order", "order-9")
    assert raised.value.describe() == "NOT_FOUND: no order order-9 | resource: order 'order-9'"


def test_unavailable_exposes_the_servers_retry_delay() -> None:
    harness = Harness(retry=RetryPolicy(max_attempts=1))
    try:
        future = harness.call(lambda: harness.client.set_stock("JUMPERS", 5))
        _, rpc = harness.unary(INVENTORY.methods_by_name["SetStock"])
        rpc.terminate(
            inventory_pb2.SetStockResponse(),
            status_metadata(code_pb2.UNAVAILABLE, "not applied yet", retry_info(5)),
            grpc.StatusCode.UNAVAILABLE,
            "not applied yet",
        )
        with pytest.raises(Unavailable) as raised:
            future.result(timeout=5)
        assert raised.value.retry_delay == 5.0
        assert str(raised.value) == "UNAVAILABLE: not applied yet | retry after 5s"
    finally:
        harness.close()


def test_details_that_disagree_with_the_status_are_dropped(oms: Harness) -> None:
    future = oms.call(lambda: oms.client.get_order("order-1"))
    _, rpc = oms.unary(GET)
    rpc.terminate(
        query_service_pb2.GetOrderResponse(),
        status_metadata(code_pb2.INTERNAL, "something else"),
        grpc.StatusCode.NOT_FOUND,
        "no order order-1",
    )
    with pytest.raises(NotFound) as raised:
        future.result(timeout=5)
    assert raised.value.details == () and raised.value.resource_type == ""


def test_an_unserved_service_raises_unimplemented(oms: Harness) -> None:
    future = oms.call(lambda: oms.client.get_customer(42))
    _, rpc = oms.unary(CUSTOMERS.methods_by_name["GetCustomer"])
    rpc.terminate(customers_pb2.GetCustomerResponse(), (), grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
    with pytest.raises(Unimplemented):
        future.result(timeout=5)


# -- WatchOrder


def test_watch_yields_each_state_and_ends_after_a_terminal_one(oms: Harness) -> None:
    future = oms.call(lambda: list(oms.client.watch_order("order-1")))
    request, rpc = oms.stream()
    rpc.send_response(query_service_pb2.WatchOrderResponse(order=order("order-1", CREATED, 1)))
    rpc.send_response(query_service_pb2.WatchOrderResponse(order=order("order-1", VALIDATED, 2)))
    rpc.terminate((), grpc.StatusCode.OK, "")

    states = [o.state for o in future.result(timeout=5)]
    assert request.order_id == "order-1" and states == [CREATED, VALIDATED]


def test_watch_is_an_iterator_that_delivers_states_as_they_come(oms: Harness) -> None:
    watch = oms.client.watch_order("order-1")
    first = oms.call(lambda: next(watch))
    _, rpc = oms.stream()
    rpc.send_response(query_service_pb2.WatchOrderResponse(order=order("order-1", CREATED, 1)))
    assert first.result(timeout=5).state == CREATED
    second = oms.call(lambda: next(watch))
    rpc.send_response(query_service_pb2.WatchOrderResponse(order=order("order-1", FAILED, 2)))
    assert second.result(timeout=5).state == FAILED
    with pytest.raises(StopIteration):
        next(watch)  # ends after the terminal state without waiting for the server


def test_closing_a_watch_cancels_the_call(oms: Harness) -> None:
    watch = oms.client.watch_order("order-1")
    first = oms.call(lambda: next(watch))
    _, rpc = oms.stream()
    rpc.send_response(query_service_pb2.WatchOrderResponse(order=order("order-1", CREATED, 1)))
    first.result(timeout=5)
    watch.close()
    oms.call(rpc.cancelled).result(timeout=5)  # grpc_testing's cancelled() blocks until the client cancels


def test_a_broken_watch_resumes_without_repeating_states(oms: Harness) -> None:
    future = oms.call(lambda: list(oms.client.watch_order("order-1")))
    _, rpc = oms.stream()
    rpc.send_response(query_service_pb2.WatchOrderResponse(order=order("order-1", CREATED, 1)))
    rpc.terminate((), grpc.StatusCode.UNAVAILABLE, "gateway restarting")
    request, rpc = oms.stream()
    rpc.send_response(query_service_pb2.WatchOrderResponse(order=order("order-1", CREATED, 1)))
    rpc.send_response(query_service_pb2.WatchOrderResponse(order=order("order-1", VALIDATED, 2)))
    rpc.terminate((), grpc.StatusCode.OK, "")

    assert request.order_id == "order-1"
    assert [(o.state, o.version) for o in future.result(timeout=5)] == [(CREATED, 1), (VALIDATED, 2)]
    assert len(oms.sleeps) == 1


def test_watch_of_an_unknown_order_raises_not_found(oms: Harness) -> None:
    future = oms.call(lambda: list(oms.client.watch_order("order-9")))
    _, rpc = oms.stream()
    rpc.terminate((), grpc.StatusCode.NOT_FOUND, "no order order-9")
    with pytest.raises(NotFound):
        future.result(timeout=5)


def test_wait_for_terminal_returns_the_final_state(oms: Harness) -> None:
    future = oms.call(lambda: oms.client.wait_for_terminal("order-1"))
    _, rpc = oms.stream()
    for state, version in ((CREATED, 1), (FAILED, 2)):
        rpc.send_response(query_service_pb2.WatchOrderResponse(order=order("order-1", state, version)))
    rpc.terminate((), grpc.StatusCode.OK, "")
    assert future.result(timeout=5).state == FAILED


def test_wait_for_terminal_raises_when_the_watch_times_out(oms: Harness) -> None:
    future = oms.call(lambda: oms.client.wait_for_terminal("order-1", timeout=5))
    _, rpc = oms.stream()
    rpc.send_response(query_service_pb2.WatchOrderResponse(order=order("order-1", CREATED, 1)))
    rpc.terminate((), grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
    with pytest.raises(DeadlineExceeded):
        future.result(timeout=5)


# -- the other calls: requests and unwrapped responses


def test_stock_calls(oms: Harness) -> None:
    stock = inventory_pb2.ProductStock(product="JUMPERS", quantity=10, reserved=2)
    future = oms.call(lambda: oms.client.set_stock("JUMPERS", 10))
    request, rpc = oms.unary(INVENTORY.methods_by_name["SetStock"])
    rpc.terminate(inventory_pb2.SetStockResponse(stock=stock), (), grpc.StatusCode.OK, "")
    assert (request.product, request.quantity) == ("JUMPERS", 10) and future.result(timeout=5) == stock

    future = oms.call(lambda: oms.client.get_stock("JUMPERS"))
    request, rpc = oms.unary(INVENTORY.methods_by_name["GetStock"])
    rpc.terminate(inventory_pb2.GetStockResponse(stock=stock), (), grpc.StatusCode.OK, "")
    assert request.product == "JUMPERS" and future.result(timeout=5) == stock


def test_customer_calls(oms: Harness) -> None:
    future = oms.call(
        lambda: oms.client.upsert_customer(customer_id=42, first_name="Ada", email="ada@example.com", level="gold")
    )
    request, rpc = oms.unary(CUSTOMERS.methods_by_name["UpsertCustomer"])
    rpc.terminate(customers_pb2.UpsertCustomerResponse(customer=request.customer), (), grpc.StatusCode.OK, "")
    assert request.customer == customers_pb2.Customer(
        customer_id=42, first_name="Ada", email="ada@example.com", level=customers_pb2.CUSTOMER_LEVEL_GOLD
    )
    assert future.result(timeout=5) == request.customer

    future = oms.call(lambda: oms.client.get_customer(42))
    request, rpc = oms.unary(CUSTOMERS.methods_by_name["GetCustomer"])
    rpc.terminate(
        customers_pb2.GetCustomerResponse(customer=customers_pb2.Customer(customer_id=42)), (), grpc.StatusCode.OK, ""
    )
    assert request.customer_id == 42 and future.result(timeout=5).customer_id == 42


def test_record_payment_generates_a_payment_id_and_retries_with_it(oms: Harness) -> None:
    future = oms.call(lambda: oms.client.record_payment(order_id="order-1", amount=25.0))
    first, rpc = oms.unary(PAYMENTS.methods_by_name["RecordPayment"])
    rpc.terminate(payments_pb2.RecordPaymentResponse(), (), grpc.StatusCode.UNAVAILABLE, "down")
    second, rpc = oms.unary(PAYMENTS.methods_by_name["RecordPayment"])
    payment = payments_pb2.Payment(payment_id=second.payment_id, order_id="order-1", currency="EUR", amount=25.0)
    rpc.terminate(payments_pb2.RecordPaymentResponse(payment=payment, created=True), (), grpc.StatusCode.OK, "")

    assert re.fullmatch(r"payment-[0-9a-f]{32}", first.payment_id) and second == first
    assert (first.order_id, first.amount, first.currency) == ("order-1", 25.0, "EUR")
    assert future.result(timeout=5).payment == payment


def test_list_payments_asks_for_the_order_s_payments_and_retries_unavailable(oms: Harness) -> None:
    future = oms.call(lambda: oms.client.list_payments("order-1"))
    first, rpc = oms.unary(PAYMENTS.methods_by_name["ListPayments"])
    rpc.terminate(payments_pb2.ListPaymentsResponse(), (), grpc.StatusCode.UNAVAILABLE, "down")
    second, rpc = oms.unary(PAYMENTS.methods_by_name["ListPayments"])
    payment = payments_pb2.Payment(payment_id="p-1", order_id="order-1", currency="EUR", amount=25.0)
    rpc.terminate(payments_pb2.ListPaymentsResponse(payments=[payment], paid=25.0), (), grpc.StatusCode.OK, "")

    assert first == second == payments_pb2.ListPaymentsRequest(order_id="order-1")
    listed = future.result(timeout=5)
    assert (list(listed.payments), listed.paid) == ([payment], 25.0)


def test_list_dead_letters_follows_the_page_tokens_to_the_last_page(oms: Harness) -> None:
    future = oms.call(lambda: list(oms.client.list_dead_letters(processor="fraud-check", page_size=1)))
    method = DEAD_LETTERS.methods_by_name["ListDeadLetters"]
    requests = []
    for n, token in enumerate(["t1", ""]):
        request, rpc = oms.unary(method)
        requests.append(request)
        entry = dead_letter_service_pb2.DeadLetterEntry(
            partition=0, offset=n, dead_letter=dead_letter_pb2.DeadLetter(processor="fraud-check", reason=f"r{n}")
        )
        response = dead_letter_service_pb2.ListDeadLettersResponse(dead_letters=[entry], next_page_token=token)
        rpc.terminate(response, (), grpc.StatusCode.OK, "")

    assert [e.dead_letter.reason for e in future.result(timeout=5)] == ["r0", "r1"]
    assert [(r.processor, r.page_size, r.page_token) for r in requests] == [
        ("fraud-check", 1, ""),
        ("fraud-check", 1, "t1"),
    ]


def test_the_client_closes_only_a_channel_it_made() -> None:
    harness = Harness()
    with harness.client:
        pass  # grpc_testing's channel would raise on a second close; ours is left alone
    harness.close()
    with OmsClient("localhost:1") as client:
        assert client.target == "localhost:1"
