"""The asyncio client: the same calls as OmsClient, awaitable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import grpc
import grpc.aio

from oms_client import _requests
from oms_client._gen.customers.v1 import customers_pb2_grpc
from oms_client._gen.deadletter.v1 import dead_letter_service_pb2, dead_letter_service_pb2_grpc
from oms_client._gen.inventory.v1 import inventory_pb2_grpc
from oms_client._gen.orders.v1 import command_service_pb2_grpc, query_service_pb2, query_service_pb2_grpc
from oms_client._gen.payments.v1 import payments_pb2_grpc
from oms_client._retry import Attempts, Deadline, RetryPolicy
from oms_client.client import channel_options
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


class AsyncOmsClient:
    """An asyncio client of the OMS front door. Create it inside a running
    event loop:

        async with AsyncOmsClient("localhost:50051") as oms:
            placed = await oms.place_order(customer_id=42, product="JUMPERS", quantity=2, price=12.5)
            async for order in oms.watch_order(placed.order.order_id):
                print(order.state)

    Deadlines, retries and errors are those of OmsClient.
    """

    def __init__(
        self,
        target: str = _requests.DEFAULT_TARGET,
        *,
        timeout: float = _requests.DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
        channel: grpc.aio.Channel | None = None,
        token: str | None = None,
        ca: str | Path | None = None,
        cert: str | Path | None = None,
        key: str | Path | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
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
                channel = grpc.aio.insecure_channel(target, options=channel_options(options))
            else:
                channel = grpc.aio.secure_channel(target, credentials, options=channel_options(options))
        self.channel = channel
        self._commands = command_service_pb2_grpc.OrderCommandServiceStub(channel)
        self._queries = query_service_pb2_grpc.OrderQueryServiceStub(channel)
        self._inventory = inventory_pb2_grpc.InventoryServiceStub(channel)
        self._customers = customers_pb2_grpc.CustomerServiceStub(channel)
        self._payments = payments_pb2_grpc.PaymentServiceStub(channel)
        self._dead_letters = dead_letter_service_pb2_grpc.DeadLetterServiceStub(channel)

    async def close(self) -> None:
        if self._owns_channel:
            await self.channel.close()

    async def __aenter__(self) -> AsyncOmsClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    async def _unary(
        self,
        method: Callable[..., Awaitable[Response]],
        request: Request,
        timeout: float | None,
    ) -> Response:
        deadline = Deadline(self.timeout if timeout is None else timeout)
        attempts = Attempts(self.retry, deadline)
        while True:
            try:
                return await method(request, timeout=deadline.remaining(), metadata=self._metadata)
            except grpc.RpcError as rpc_error:
                error = from_rpc_error(rpc_error)
                delay = attempts.retry_after(error)
                if delay is None:
                    raise error from rpc_error
            await self._sleep(delay)

    async def place_order(
        self,
        *,
        customer_id: int,
        product: str,
        quantity: int,
        price: float,
        order_id: str | None = None,
        timeout: float | None = None,
    ) -> PlaceOrderResponse:
        """See OmsClient.place_order."""
        request = _requests.place_order(order_id, customer_id, product, quantity, price)
        return await self._unary(self._commands.PlaceOrder, request, timeout)

    async def get_order(
        self, order_id: str, *, after: LogPosition | None = None, timeout: float | None = None
    ) -> Order:
        return (await self._unary(self._queries.GetOrder, _requests.get_order(order_id, after), timeout)).order

    async def watch_order(
        self,
        order_id: str,
        *,
        after: LogPosition | None = None,
        timeout: float | None = None,
        until_closed: bool = False,
    ) -> AsyncGenerator[Order, None]:
        """See OmsClient.watch_order. To stop early, close the generator
        (`await watch.aclose()`, or `async with contextlib.aclosing(...)`):
        that cancels the call."""
        request = _requests.watch_order(order_id, after, until_closed)
        ends = is_closed if until_closed else is_terminal
        deadline = Deadline(timeout)
        attempts = Attempts(self.retry, deadline)
        seen = 0
        while True:
            call = self._queries.WatchOrder(request, timeout=deadline.remaining(), metadata=self._metadata)
            try:
                async for response in call:
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
            await self._sleep(delay)

    async def wait_for_terminal(
        self, order_id: str, *, after: LogPosition | None = None, timeout: float = _requests.DEFAULT_WAIT_S
    ) -> Order:
        """See OmsClient.wait_for_terminal."""
        last: Order | None = None
        async for last in self.watch_order(order_id, after=after, timeout=timeout):  # noqa: B007 - the last one is wanted
            pass
        if last is None or not is_terminal(last):
            raise OmsError(grpc.StatusCode.UNKNOWN, f"the watch of {order_id} ended before a terminal state")
        return last

    async def cancel_order(
        self, order_id: str, *, reason: str = "", timeout: float | None = None
    ) -> CancelOrderResponse:
        """See OmsClient.cancel_order."""
        return await self._unary(self._commands.CancelOrder, _requests.cancel_order(order_id, reason), timeout)

    async def ship_order(self, order_id: str, *, timeout: float | None = None) -> ShipOrderResponse:
        """See OmsClient.ship_order."""
        return await self._unary(self._commands.ShipOrder, _requests.ship_order(order_id), timeout)

    async def list_order_events(
        self, order_id: str, *, after: LogPosition | None = None, timeout: float | None = None
    ) -> list[OrderHistoryEvent]:
        """See OmsClient.list_order_events."""
        request = _requests.list_order_events(order_id, after)
        return list((await self._unary(self._queries.ListOrderEvents, request, timeout)).events)

    async def list_order_pages(
        self,
        *,
        customer_id: int | None = None,
        state: OrderState | str | int | None = None,
        product: str | None = None,
        page_size: int = 0,
        timeout: float | None = None,
    ) -> AsyncIterator[list[Order]]:
        """See OmsClient.list_order_pages."""
        token = ""
        while True:
            request = _requests.list_orders(customer_id, state, product, page_size, token)
            page: query_service_pb2.ListOrdersResponse = await self._unary(self._queries.ListOrders, request, timeout)
            yield list(page.orders)
            if not page.next_page_token:
                return
            token = page.next_page_token

    async def list_orders_page(
        self,
        *,
        customer_id: int | None = None,
        state: OrderState | str | int | None = None,
        product: str | None = None,
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
    ) -> tuple[list[Order], str]:
        """One page of ListOrders, newest first, and the token of the next
        page ("" after the last): for a caller that pages on demand (a web
        page's "next" link) rather than iterating them all."""
        request = _requests.list_orders(customer_id, state, product, page_size, page_token)
        page: query_service_pb2.ListOrdersResponse = await self._unary(self._queries.ListOrders, request, timeout)
        return list(page.orders), page.next_page_token

    async def list_orders(
        self,
        *,
        customer_id: int | None = None,
        state: OrderState | str | int | None = None,
        product: str | None = None,
        page_size: int = 0,
        timeout: float | None = None,
    ) -> AsyncIterator[Order]:
        """See OmsClient.list_orders."""
        async for page in self.list_order_pages(
            customer_id=customer_id, state=state, product=product, page_size=page_size, timeout=timeout
        ):
            for order in page:
                yield order

    async def watch_orders(
        self, customer_id: int, *, resume_token: str | None = None, timeout: float | None = None
    ) -> AsyncGenerator[WatchOrdersResponse, None]:
        """See OmsClient.watch_orders."""
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
                async for response in call:
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
            await self._sleep(delay)

    async def set_stock(self, product: str, quantity: int, *, timeout: float | None = None) -> ProductStock:
        return (await self._unary(self._inventory.SetStock, _requests.set_stock(product, quantity), timeout)).stock

    async def get_stock(self, product: str, *, timeout: float | None = None) -> ProductStock:
        return (await self._unary(self._inventory.GetStock, _requests.get_stock(product), timeout)).stock

    async def upsert_customer(
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
        if customer is None:
            customer = _requests.customer(customer_id, first_name, last_name, email, address, level)
        response = await self._unary(self._customers.UpsertCustomer, _requests.upsert_customer(customer), timeout)
        return response.customer

    async def get_customer(self, customer_id: int, *, timeout: float | None = None) -> Customer:
        return (await self._unary(self._customers.GetCustomer, _requests.get_customer(customer_id), timeout)).customer

    async def record_payment(
        self,
        *,
        order_id: str,
        amount: float,
        currency: str = "EUR",
        payment_id: str | None = None,
        timeout: float | None = None,
    ) -> RecordPaymentResponse:
        request = _requests.record_payment(payment_id, order_id, amount, currency)
        return await self._unary(self._payments.RecordPayment, request, timeout)

    async def list_payments(self, order_id: str, *, timeout: float | None = None) -> ListPaymentsResponse:
        """The payments recorded for an order, oldest first, and their total."""
        return await self._unary(self._payments.ListPayments, _requests.list_payments(order_id), timeout)

    async def list_dead_letters_page(
        self, *, processor: str | None = None, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> tuple[list[DeadLetterEntry], str]:
        """See OmsClient.list_dead_letters_page."""
        request = _requests.list_dead_letters(processor, page_size, page_token)
        page: dead_letter_service_pb2.ListDeadLettersResponse = await self._unary(
            self._dead_letters.ListDeadLetters, request, timeout
        )
        return list(page.dead_letters), page.next_page_token

    async def list_dead_letters(
        self, *, processor: str | None = None, page_size: int = 0, timeout: float | None = None
    ) -> AsyncIterator[DeadLetterEntry]:
        """See OmsClient.list_dead_letters."""
        token = ""
        while True:
            entries, token = await self.list_dead_letters_page(
                processor=processor, page_size=page_size, page_token=token, timeout=timeout
            )
            for entry in entries:
                yield entry
            if not token:
                return


__all__ = ["AsyncOmsClient"]
