"""The synchronous client."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import grpc

from oms_client import _requests
from oms_client._gen.customers.v1 import customers_pb2_grpc
from oms_client._gen.deadletter.v1 import dead_letter_service_pb2, dead_letter_service_pb2_grpc
from oms_client._gen.inventory.v1 import inventory_pb2_grpc
from oms_client._gen.orders.v1 import command_service_pb2_grpc, query_service_pb2, query_service_pb2_grpc
from oms_client._gen.payments.v1 import payments_pb2_grpc
from oms_client._retry import Attempts, Deadline, RetryPolicy
from oms_client._version import __version__
from oms_client.errors import OmsError, from_rpc_error
from oms_client.types import (
    CancelOrderResponse,
    Customer,
    CustomerLevel,
    DeadLetterEntry,
    ListPaymentsResponse,
    LogPosition,
    Order,
    OrderHistoryEvent,
    OrderState,
    PlaceOrderResponse,
    ProductStock,
    RecordPaymentResponse,
    ShipOrderResponse,
    WatchOrdersResponse,
    is_closed,
    is_terminal,
)

Request = TypeVar("Request")
Response = TypeVar("Response")

USER_AGENT = f"oms-client/{__version__}"


def channel_options(extra: Sequence[tuple[str, Any]] = ()) -> list[tuple[str, Any]]:
    return [("grpc.primary_user_agent", USER_AGENT), *extra]


class OmsClient:
    """A client of the OMS front door.

        with OmsClient("localhost:50051") as oms:
            placed = oms.place_order(customer_id=42, product="JUMPERS", quantity=2, price=12.5)
            final = oms.wait_for_terminal(placed.order.order_id)

    Unary calls have an overall deadline of `timeout` seconds (per call
    `timeout=` overrides it) within which UNAVAILABLE is retried with
    backoff (see RetryPolicy). Failures raise `oms_client.errors.OmsError`
    subclasses. Pass `channel=` to use a channel of your own (it is then
    not closed by `close()`).

    Security: `token=` sends a bearer token with every call; `ca=` (the CA
    file that verifies the server) turns TLS on, with `cert=` and `key=` a
    client certificate for mutual TLS (or pass `credentials=` of your own).
    """

    def __init__(
        self,
        target: str = _requests.DEFAULT_TARGET,
        *,
        timeout: float = _requests.DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
        channel: grpc.Channel | None = None,
        token: str | None = None,
        ca: str | Path | None = None,
        cert: str | Path | None = None,
        key: str | Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._owns_channel = channel is None
        # Sent with every call: `authorization: Bearer <token>`.
        self._metadata = _requests.token_metadata(token)
        if credentials is None and (ca or cert or key):
            credentials = _requests.tls_credentials(ca, cert, key)
        if channel is None:
            if credentials is None:
                channel = grpc.insecure_channel(target, options=channel_options(options))
            else:
                channel = grpc.secure_channel(target, credentials, options=channel_options(options))
        self.channel = channel
        self._commands = command_service_pb2_grpc.OrderCommandServiceStub(channel)
        self._queries = query_service_pb2_grpc.OrderQueryServiceStub(channel)
        self._inventory = inventory_pb2_grpc.InventoryServiceStub(channel)
        self._customers = customers_pb2_grpc.CustomerServiceStub(channel)
        self._payments = payments_pb2_grpc.PaymentServiceStub(channel)
        self._dead_letters = dead_letter_service_pb2_grpc.DeadLetterServiceStub(channel)

    # -- lifecycle

    def close(self) -> None:
        if self._owns_channel:
            self.channel.close()

    def __enter__(self) -> OmsClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # -- calls

    def _unary(
        self,
        method: grpc.UnaryUnaryMultiCallable[Request, Response],
        request: Request,
        timeout: float | None,
    ) -> Response:
        deadline = Deadline(self.timeout if timeout is None else timeout)
        attempts = Attempts(self.retry, deadline)
        while True:
            try:
                return method(request, timeout=deadline.remaining(), metadata=self._metadata)
            except grpc.RpcError as rpc_error:
                error = from_rpc_error(rpc_error)
                delay = attempts.retry_after(error)
                if delay is None:
                    raise error from rpc_error
            self._sleep(delay)

    def place_order(
        self,
        *,
        customer_id: int,
        product: str,
        quantity: int,
        price: float,
        order_id: str | None = None,
        timeout: float | None = None,
    ) -> PlaceOrderResponse:
        """Places an order, state CREATED; `order_id` is the idempotency key
        (a fresh one when not given). Retrying with the same id and content
        returns the same order (`created` False); other content raises
        AlreadyExists."""
        request = _requests.place_order(order_id, customer_id, product, quantity, price)
        return self._unary(self._commands.PlaceOrder, request, timeout)

    def get_order(self, order_id: str, *, after: LogPosition | None = None, timeout: float | None = None) -> Order:
        """The order's latest state (from a view at least as fresh as `after`)."""
        return self._unary(self._queries.GetOrder, _requests.get_order(order_id, after), timeout).order

    def watch_order(
        self,
        order_id: str,
        *,
        after: LogPosition | None = None,
        timeout: float | None = None,
        until_closed: bool = False,
    ) -> Generator[Order, None, None]:
        """The order's current state, then each change, ending after a
        terminal state (with `until_closed`: after SHIPPED, CANCELLED or
        FAILED). `timeout` (default: none) bounds the whole watch. A stream
        broken by UNAVAILABLE is resumed, skipping versions already seen.
        Closing the iterator cancels the call."""
        request = _requests.watch_order(order_id, after, until_closed)
        ends = is_closed if until_closed else is_terminal
        deadline = Deadline(timeout)
        attempts = Attempts(self.retry, deadline)
        seen = 0
        while True:
            call = self._queries.WatchOrder(request, timeout=deadline.remaining(), metadata=self._metadata)
            try:
                for response in call:
                    attempts.progressed()
                    if response.order.version > seen:
                        seen = response.order.version
                        yield response.order
                        if ends(response.order):
                            return
                return
            except grpc.RpcError as rpc_error:
                error = from_rpc_error(rpc_error)
                delay = attempts.retry_after(error)
                if delay is None:
                    raise error from rpc_error
            finally:
                call.cancel()
            self._sleep(delay)

    def wait_for_terminal(
        self, order_id: str, *, after: LogPosition | None = None, timeout: float = _requests.DEFAULT_WAIT_S
    ) -> Order:
        """Blocks until the order is VALIDATED, FAILED, SHIPPED or CANCELLED
        and returns it; raises DeadlineExceeded after `timeout` seconds."""
        last: Order | None = None
        for last in self.watch_order(order_id, after=after, timeout=timeout):  # noqa: B007 - the last one is wanted
            pass
        if last is None or not is_terminal(last):
            raise OmsError(grpc.StatusCode.UNKNOWN, f"the watch of {order_id} ended before a terminal state")
        return last

    def cancel_order(self, order_id: str, *, reason: str = "", timeout: float | None = None) -> CancelOrderResponse:
        """Cancels a CREATED or VALIDATED order (its reservation is released);
        a CANCELLED one comes back unchanged (`changed` False). A FAILED or
        SHIPPED order raises FailedPrecondition; an unknown one NotFound."""
        return self._unary(self._commands.CancelOrder, _requests.cancel_order(order_id, reason), timeout)

    def ship_order(self, order_id: str, *, timeout: float | None = None) -> ShipOrderResponse:
        """Ships a VALIDATED order paid in full; a SHIPPED one comes back
        unchanged. Otherwise FailedPrecondition, whose `missing` names what
        is missing (STATE, PAYMENT)."""
        return self._unary(self._commands.ShipOrder, _requests.ship_order(order_id), timeout)

    def list_order_events(
        self, order_id: str, *, after: LogPosition | None = None, timeout: float | None = None
    ) -> list[OrderHistoryEvent]:
        """The order's history, oldest first."""
        request = _requests.list_order_events(order_id, after)
        return list(self._unary(self._queries.ListOrderEvents, request, timeout).events)

    def list_order_pages(
        self,
        *,
        customer_id: int | None = None,
        state: OrderState | str | int | None = None,
        product: str | None = None,
        page_size: int = 0,
        timeout: float | None = None,
    ) -> Iterator[list[Order]]:
        """Pages of orders, newest first, filtered by customer, state and
        product (each optional); each page is fetched as it is reached
        (`timeout` bounds each page's call)."""
        token = ""
        while True:
            request = _requests.list_orders(customer_id, state, product, page_size, token)
            page: query_service_pb2.ListOrdersResponse = self._unary(self._queries.ListOrders, request, timeout)
            yield list(page.orders)
            if not page.next_page_token:
                return
            token = page.next_page_token

    def list_orders(
        self,
        *,
        customer_id: int | None = None,
        state: OrderState | str | int | None = None,
        product: str | None = None,
        page_size: int = 0,
        timeout: float | None = None,
    ) -> Iterator[Order]:
        """Every order of list_order_pages, one at a time."""
        for page in self.list_order_pages(
            customer_id=customer_id, state=state, product=product, page_size=page_size, timeout=timeout
        ):
            yield from page

    def watch_orders(
        self, customer_id: int, *, resume_token: str | None = None, timeout: float | None = None
    ) -> Generator[WatchOrdersResponse, None, None]:
        """Every change to the customer's orders from now (or after
        `resume_token`): the order as it stands, the kind of change, and the
        token to resume right after it. Without `resume_token` the first
        response has only a token, the position at the call: it is sent once
        the server watches, so changes made after it has been read are seen. Endless; `timeout` (default: none)
        bounds it. A stream broken by UNAVAILABLE is resumed from the last
        token. Closing the iterator cancels the call."""
        token = resume_token
        # The first response of the first call has only a token (the position at the call).
        resumed: str | None = resume_token
        deadline = Deadline(timeout)
        attempts = Attempts(self.retry, deadline)
        while True:
            call = self._queries.WatchOrders(
                _requests.watch_orders(customer_id, token), timeout=deadline.remaining(), metadata=self._metadata
            )
            try:
                for response in call:
                    attempts.progressed()
                    token = response.resume_token
                    if response.HasField("order") or resumed is None:
                        resumed = token
                        yield response
                return
            except grpc.RpcError as rpc_error:
                error = from_rpc_error(rpc_error)
                delay = attempts.retry_after(error)
                if delay is None:
                    raise error from rpc_error
            finally:
                call.cancel()
            self._sleep(delay)

    def set_stock(self, product: str, quantity: int, *, timeout: float | None = None) -> ProductStock:
        """Sets a product's units in the warehouse; answers once the inventory check applies it."""
        return self._unary(self._inventory.SetStock, _requests.set_stock(product, quantity), timeout).stock

    def get_stock(self, product: str, *, timeout: float | None = None) -> ProductStock:
        """A product's stock and reserved units."""
        return self._unary(self._inventory.GetStock, _requests.get_stock(product), timeout).stock

    def upsert_customer(
        self,
        customer: Customer | None = None,
        *,
        customer_id: int = 0,
        first_name: str = "",
        last_name: str = "",
        email: str = "",
        address: str = "",
        level: CustomerLevel | str | int = 0,
        timeout: float | None = None,
    ) -> Customer:
        """Creates or replaces a customer, given as a Customer or as fields."""
        if customer is None:
            customer = _requests.customer(customer_id, first_name, last_name, email, address, level)
        return self._unary(self._customers.UpsertCustomer, _requests.upsert_customer(customer), timeout).customer

    def get_customer(self, customer_id: int, *, timeout: float | None = None) -> Customer:
        return self._unary(self._customers.GetCustomer, _requests.get_customer(customer_id), timeout).customer

    def record_payment(
        self,
        *,
        order_id: str,
        amount: float,
        currency: str = "EUR",
        payment_id: str | None = None,
        timeout: float | None = None,
    ) -> RecordPaymentResponse:
        """Records a payment for an order; `payment_id` is the idempotency
        key (a fresh one when not given)."""
        request = _requests.record_payment(payment_id, order_id, amount, currency)
        return self._unary(self._payments.RecordPayment, request, timeout)

    def list_payments(self, order_id: str, *, timeout: float | None = None) -> ListPaymentsResponse:
        """The payments recorded for an order, oldest first (`payments`), and
        their total (`paid`). A customer token reads only its own orders'."""
        return self._unary(self._payments.ListPayments, _requests.list_payments(order_id), timeout)

    def list_dead_letters_page(
        self, *, processor: str | None = None, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> tuple[list[DeadLetterEntry], str]:
        """One page of the dead letters (records a processor gave up on, with
        its reason), newest first, of one processor or every one, and the
        token of the next page ("" after the last). Admins only."""
        request = _requests.list_dead_letters(processor, page_size, page_token)
        page: dead_letter_service_pb2.ListDeadLettersResponse = self._unary(
            self._dead_letters.ListDeadLetters, request, timeout
        )
        return list(page.dead_letters), page.next_page_token

    def list_dead_letters(
        self, *, processor: str | None = None, page_size: int = 0, timeout: float | None = None
    ) -> Iterator[DeadLetterEntry]:
        """Every dead letter, newest first, a page fetched as it is reached."""
        token = ""
        while True:
            entries, token = self.list_dead_letters_page(
                processor=processor, page_size=page_size, page_token=token, timeout=timeout
            )
            yield from entries
            if not token:
                return


__all__ = ["OmsClient"]
