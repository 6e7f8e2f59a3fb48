"""PaymentService: decode, call the handler, encode. The payment id picks an
owner as an order id would, so every call for one id is served by one
instance (gateway/app/writes.py says why). A customer may pay only its own
orders: the paid order is first read, as that customer, at the order's
owner (routed as a GetOrder would be). ListPayments is served by the
order's owner, whose order view says whose order it is."""

from __future__ import annotations

import grpc

from gateway.api.auth import principal
from gateway.api.routing import Routes, routed
from gateway.app import commands
from gateway.app.commands import GetOrder, RecordPayment
from gateway.app.handlers import Orders, Payments
from oms.orders.v1 import query_service_pb2, query_service_pb2_grpc
from oms.payments.v1 import payments_pb2, payments_pb2_grpc


def _record(request: payments_pb2.RecordPaymentRequest) -> RecordPayment:
    return RecordPayment(request.payment_id, request.order_id, request.amount, request.currency)


class PaymentService(payments_pb2_grpc.PaymentServiceServicer):
    peer_stub = payments_pb2_grpc.PaymentServiceStub

    def __init__(self, payments: Payments, routes: Routes, orders: Orders | None = None) -> None:
        self.payments = payments
        self.routes = routes
        self.orders = orders

    async def _payer(self, order_id: str, context: grpc.aio.ServicerContext) -> int | None:
        """The customer of the paid order, as the caller may see it (NOT_FOUND
        if it may not: the same answer as for an order that does not exist)."""
        if principal().admin or self.orders is None:
            return None
        orders = self.orders
        query = GetOrder(order_id)

        async def here() -> query_service_pb2.GetOrderResponse:
            return query_service_pb2.GetOrderResponse(order=await orders.get(query, principal()))

        found = await self.routes.unary(
            orders.partition(order_id),
            context,
            here,
            lambda channel, timeout, metadata: query_service_pb2_grpc.OrderQueryServiceStub(channel).GetOrder(
                query_service_pb2.GetOrderRequest(order_id=order_id), timeout=timeout, metadata=metadata
            ),
            lookup=True,
        )
        return found.order.customer_id

    @routed(_record, lambda service, command: service.payments.partition(command.payment_id))
    async def RecordPayment(
        self, command: RecordPayment, context: grpc.aio.ServicerContext
    ) -> payments_pb2.RecordPaymentResponse:
        payer = await self._payer(command.order_id, context)
        recorded = await self.payments.record(command, principal(), payer)
        return payments_pb2.RecordPaymentResponse(payment=recorded.value, created=recorded.created)

    @routed(
        lambda request: commands.ListPayments(request.order_id),
        lambda service, query: service.payments.order_partition(query.order_id),
    )
    async def ListPayments(
        self, query: commands.ListPayments, context: grpc.aio.ServicerContext
    ) -> payments_pb2.ListPaymentsResponse:
        return await self.payments.for_order(query, principal())
