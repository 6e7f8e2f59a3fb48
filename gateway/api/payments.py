"""PaymentService: decode, call the handler, encode. The payment id picks an
owner as an order id would, so every call for one id is served by one
instance (gateway/app/writes.py says why)."""

from __future__ import annotations

import grpc

from gateway.api.routing import Routes, routed
from gateway.app.commands import RecordPayment
from gateway.app.handlers import Payments
from oms.payments.v1 import payments_pb2, payments_pb2_grpc


def _record(request: payments_pb2.RecordPaymentRequest) -> RecordPayment:
    return RecordPayment(request.payment_id, request.order_id, request.amount, request.currency)


class PaymentService(payments_pb2_grpc.PaymentServiceServicer):
    peer_stub = payments_pb2_grpc.PaymentServiceStub

    def __init__(self, payments: Payments, routes: Routes) -> None:
        self.payments = payments
        self.routes = routes

    @routed(_record, lambda service, command: service.payments.partition(command.payment_id))
    async def RecordPayment(
        self, command: RecordPayment, context: grpc.aio.ServicerContext
    ) -> payments_pb2.RecordPaymentResponse:
        recorded = await self.payments.record(command)
        return payments_pb2.RecordPaymentResponse(payment=recorded.value, created=recorded.created)
