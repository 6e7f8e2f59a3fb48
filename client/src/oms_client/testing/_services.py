"""The fake's gRPC services: decode, check the request's shape as the
platform does, ask the state, encode. A refusal becomes the status it
carries (with its details)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc
from google.protobuf.message import DecodeError
from grpc_status import rpc_status

from oms_client._gen.customers.v1 import customers_pb2, customers_pb2_grpc
from oms_client._gen.deadletter.v1 import dead_letter_service_pb2, dead_letter_service_pb2_grpc
from oms_client._gen.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from oms_client._gen.orders.v1 import (
    command_service_pb2,
    command_service_pb2_grpc,
    query_service_pb2,
    query_service_pb2_grpc,
)
from oms_client._gen.payments.v1 import payments_pb2, payments_pb2_grpc
from oms_client.testing import _checks as checks
from oms_client.testing._checks import FieldViolation
from oms_client.testing._state import CLOSED, TERMINAL, Refusal, State, invalid, require

F = TypeVar("F", bound=Callable[..., Any])


class _Malformed:
    """A request whose bytes are no message of the method's type."""


MALFORMED = _Malformed()
NOT_A_MESSAGE = [FieldViolation("request", "is not a well-formed protobuf message of this method")]


class LenientRequests(grpc.ServerInterceptor):
    """gRPC answers bytes its deserializer cannot read with an error of its
    own; the platform answers INVALID_ARGUMENT. These become MALFORMED, which
    the methods refuse as the platform does."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        read = handler.request_deserializer

        def lenient(data: bytes) -> object:
            try:
                return read(data)
            except DecodeError:
                return MALFORMED

        return handler._replace(request_deserializer=lenient)


# How often a waiting stream looks whether its call is still wanted.
POLL_S = 0.2


def answered(method: F) -> F:
    """Answers a Refusal raised by a unary method with its status."""

    @functools.wraps(method)
    def call(self: object, request: object, context: grpc.ServicerContext) -> object:
        try:
            if request is MALFORMED:
                raise invalid(NOT_A_MESSAGE)
            return method(self, request, context)
        except Refusal as refusal:
            context.abort_with_status(rpc_status.to_status(refusal.status))
            raise  # unreachable: abort raises

    return call  # type: ignore[return-value]


def answered_stream(method: F) -> F:
    @functools.wraps(method)
    def call(self: object, request: object, context: grpc.ServicerContext) -> Iterator[object]:
        try:
            if request is MALFORMED:
                raise invalid(NOT_A_MESSAGE)
            yield from method(self, request, context)
        except Refusal as refusal:
            context.abort_with_status(rpc_status.to_status(refusal.status))

    return call  # type: ignore[return-value]


def _position(offset: int | None) -> command_service_pb2.LogPosition | None:
    return None if offset is None else command_service_pb2.LogPosition(partition=0, offset=offset)


def _checked_position(request: Any) -> None:
    """order_id and min_position, as GetOrder, WatchOrder and ListOrderEvents check them."""
    violations = checks.order_id_violations(request.order_id)
    if request.HasField("min_position"):
        position = request.min_position
        violations += checks.position_violations(position.partition, position.offset)
    require(violations)
    if request.HasField("min_position") and request.min_position.partition != 0:
        partition = request.min_position.partition
        raise invalid([FieldViolation("min_position.partition", f"must be the order's partition (0), not {partition}")])


class Commands(command_service_pb2_grpc.OrderCommandServiceServicer):
    def __init__(self, state: State) -> None:
        self.state = state

    @answered
    def PlaceOrder(
        self, request: command_service_pb2.PlaceOrderRequest, context: grpc.ServicerContext
    ) -> command_service_pb2.PlaceOrderResponse:
        r = request
        require(checks.place_order_violations(r.order_id, r.customer_id, r.product, r.price, r.quantity))
        order, offset = self.state.place(r.order_id, r.customer_id, r.product, r.quantity, r.price)
        return command_service_pb2.PlaceOrderResponse(
            order=order, position=_position(offset), created=offset is not None
        )

    @answered
    def CancelOrder(
        self, request: command_service_pb2.CancelOrderRequest, context: grpc.ServicerContext
    ) -> command_service_pb2.CancelOrderResponse:
        require(checks.order_id_violations(request.order_id) + checks.reason_violations(request.reason))
        order, offset, changed = self.state.cancel(request.order_id, request.reason)
        return command_service_pb2.CancelOrderResponse(order=order, position=_position(offset), changed=changed)

    @answered
    def ShipOrder(
        self, request: command_service_pb2.ShipOrderRequest, context: grpc.ServicerContext
    ) -> command_service_pb2.ShipOrderResponse:
        require(checks.order_id_violations(request.order_id))
        order, offset, changed = self.state.ship(request.order_id)
        return command_service_pb2.ShipOrderResponse(order=order, position=_position(offset), changed=changed)


class Queries(query_service_pb2_grpc.OrderQueryServiceServicer):
    def __init__(self, state: State) -> None:
        self.state = state

    @answered
    def GetOrder(
        self, request: query_service_pb2.GetOrderRequest, context: grpc.ServicerContext
    ) -> query_service_pb2.GetOrderResponse:
        _checked_position(request)
        return query_service_pb2.GetOrderResponse(order=self.state.order(request.order_id))

    @answered_stream
    def WatchOrder(
        self, request: query_service_pb2.WatchOrderRequest, context: grpc.ServicerContext
    ) -> Iterator[query_service_pb2.WatchOrderResponse]:
        _checked_position(request)
        ends = CLOSED if request.until_closed else TERMINAL
        order = self.state.order(request.order_id)
        yield query_service_pb2.WatchOrderResponse(order=order)
        while order.state not in ends:
            with self.state.changed:
                newer = self.state.order(request.order_id)
                while newer.version <= order.version:
                    if self.state.closing or not context.is_active():
                        return
                    self.state.changed.wait(POLL_S)
                    newer = self.state.order(request.order_id)
            order = newer
            yield query_service_pb2.WatchOrderResponse(order=order)

    @answered
    def ListOrderEvents(
        self, request: query_service_pb2.ListOrderEventsRequest, context: grpc.ServicerContext
    ) -> query_service_pb2.ListOrderEventsResponse:
        _checked_position(request)
        return query_service_pb2.ListOrderEventsResponse(events=self.state.history(request.order_id))

    @answered
    def ListOrders(
        self, request: query_service_pb2.ListOrdersRequest, context: grpc.ServicerContext
    ) -> query_service_pb2.ListOrdersResponse:
        r = request
        require(checks.list_orders_violations(r.customer_id, r.state, r.product, r.page_size))
        orders, token = self.state.page(r.customer_id, r.state, r.product, r.page_size, r.page_token)
        return query_service_pb2.ListOrdersResponse(orders=orders, next_page_token=token)

    @answered_stream
    def WatchOrders(
        self, request: query_service_pb2.WatchOrdersRequest, context: grpc.ServicerContext
    ) -> Iterator[query_service_pb2.WatchOrdersResponse]:
        customer_id = request.customer_id
        require(checks.customer_id_violations(customer_id))
        scope = f"watch/{customer_id}"
        after: int
        if request.resume_token:
            values = self.state.tokens.read(scope, request.resume_token, "resume_token")
            if len(values) != 1 or not isinstance(values[0], int):
                raise invalid([FieldViolation("resume_token", "is malformed")])
            after = values[0]
        else:
            after = self.state.latest_change(customer_id)
            yield query_service_pb2.WatchOrdersResponse(resume_token=self.state.tokens.issue(scope, [after]))
        while not self.state.closing and context.is_active():
            for offset, change in self.state.changes_after(customer_id, after):
                change.resume_token = self.state.tokens.issue(scope, [offset])
                yield change
                after = offset
            with self.state.changed:
                if self.state.latest_change(customer_id) == after and not self.state.closing:
                    self.state.changed.wait(POLL_S)


class Inventory(inventory_pb2_grpc.InventoryServiceServicer):
    def __init__(self, state: State) -> None:
        self.state = state

    @answered
    def SetStock(
        self, request: inventory_pb2.SetStockRequest, context: grpc.ServicerContext
    ) -> inventory_pb2.SetStockResponse:
        require(checks.stock_violations(request.product, request.quantity))
        return inventory_pb2.SetStockResponse(stock=self.state.set_stock(request.product, request.quantity))

    @answered
    def GetStock(
        self, request: inventory_pb2.GetStockRequest, context: grpc.ServicerContext
    ) -> inventory_pb2.GetStockResponse:
        require(checks.product_violations(request.product))
        return inventory_pb2.GetStockResponse(stock=self.state.get_stock(request.product))


class Customers(customers_pb2_grpc.CustomerServiceServicer):
    def __init__(self, state: State) -> None:
        self.state = state

    @answered
    def UpsertCustomer(
        self, request: customers_pb2.UpsertCustomerRequest, context: grpc.ServicerContext
    ) -> customers_pb2.UpsertCustomerResponse:
        require(checks.customer_violations(request.customer))
        return customers_pb2.UpsertCustomerResponse(customer=self.state.upsert_customer(request.customer))

    @answered
    def GetCustomer(
        self, request: customers_pb2.GetCustomerRequest, context: grpc.ServicerContext
    ) -> customers_pb2.GetCustomerResponse:
        require(checks.customer_id_violations(request.customer_id))
        return customers_pb2.GetCustomerResponse(customer=self.state.get_customer(request.customer_id))


class Payments(payments_pb2_grpc.PaymentServiceServicer):
    def __init__(self, state: State) -> None:
        self.state = state

    @answered
    def RecordPayment(
        self, request: payments_pb2.RecordPaymentRequest, context: grpc.ServicerContext
    ) -> payments_pb2.RecordPaymentResponse:
        r = request
        require(checks.payment_violations(r.payment_id, r.order_id, r.amount, r.currency))
        if r.currency != self.state.currency:
            shop = self.state.currency
            raise invalid([FieldViolation("currency", f"must be {shop}, the shop's currency, not {r.currency}")])
        payment, created = self.state.record_payment(r.payment_id, r.order_id, r.amount, r.currency)
        return payments_pb2.RecordPaymentResponse(payment=payment, created=created)


class DeadLetters(dead_letter_service_pb2_grpc.DeadLetterServiceServicer):
    """The fake runs no processors, so nothing is ever dead-lettered."""

    @answered
    def ListDeadLetters(
        self, request: dead_letter_service_pb2.ListDeadLettersRequest, context: grpc.ServicerContext
    ) -> dead_letter_service_pb2.ListDeadLettersResponse:
        if request.page_size < 0:
            raise invalid([FieldViolation("page_size", "must be 0 (the default) or greater")])
        if request.page_token:
            raise invalid([FieldViolation("page_token", "is not a token this service issued for this request")])
        return dead_letter_service_pb2.ListDeadLettersResponse()
