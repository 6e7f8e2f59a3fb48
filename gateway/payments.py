"""PaymentService: payments go to `payments` (key: payment id), idempotently.

Like PlaceOrder: every call for one payment id is served by one gateway
instance (the owner of the id's partition in the view group, found by the
Router; calls to other instances are forwarded), concurrent calls for the
id there are serialized, and each looks the id up in the payments table
(once the table has caught up with the id's partition) before writing, so a
retry or a duplicate finds the payment instead of recording it twice.
"""

from __future__ import annotations

import asyncio
import math
import re
import time

import grpc

from gateway.errors import FieldViolation, already_exists, invalid_argument, unavailable
from gateway.requests import order_id_violations
from gateway.forwarding import Router
from gateway.services import KeyedLocks
from gateway.tables import Tables
from gateway.tasks import outlive_cancellation
from oms.payments.v1 import payments_pb2, payments_pb2_grpc
from streams.kafka import Publisher, StreamsError

CURRENCY = re.compile(r"[A-Z]{3}")


def payment_violations(request: payments_pb2.RecordPaymentRequest) -> list[FieldViolation]:
    violations = order_id_violations(request.payment_id, "payment_id") + order_id_violations(request.order_id, "order_id")
    if not math.isfinite(request.amount) or request.amount <= 0:
        violations.append(FieldViolation("amount", "must be a finite number greater than 0"))
    if not CURRENCY.fullmatch(request.currency):
        violations.append(FieldViolation("currency", "must be an ISO 4217 code of three capital letters, such as EUR"))
    return violations


def _same_payment(stored: payments_pb2.Payment, request: payments_pb2.RecordPaymentRequest) -> bool:
    return (stored.order_id, stored.currency, stored.amount) == (request.order_id, request.currency, request.amount)


class PaymentService(payments_pb2_grpc.PaymentServiceServicer):
    def __init__(self, tables: Tables, publisher: Publisher, router: Router | None = None) -> None:
        self._tables = tables
        self._publisher = publisher
        self._router = router
        self._locks = KeyedLocks()

    async def RecordPayment(
        self, request: payments_pb2.RecordPaymentRequest, context: grpc.aio.ServicerContext
    ) -> payments_pb2.RecordPaymentResponse:
        violations = payment_violations(request)
        if violations:
            raise invalid_argument(violations)
        if self._router is None:
            return await self._record(request)
        # The payment id picks an owner as an order id would: one instance per id.
        return await self._router.unary(
            self._router.partition_of(self._tables.topics.orders, request.payment_id),
            context,
            lambda: self._record(request),
            lambda channel, timeout, metadata: payments_pb2_grpc.PaymentServiceStub(channel).RecordPayment(
                request, timeout=timeout, metadata=metadata
            ),
        )

    async def _record(self, request: payments_pb2.RecordPaymentRequest) -> payments_pb2.RecordPaymentResponse:
        self._tables.require_healthy()
        # As for PlaceOrder: a cancelled call does not abandon its write, so
        # the id's lock is held until the write is settled.
        return await outlive_cancellation(self._record_once(request))

    async def _record_once(self, request: payments_pb2.RecordPaymentRequest) -> payments_pb2.RecordPaymentResponse:
        async with self._locks.hold(request.payment_id):
            existing = await self._tables.payment_when_known(request.payment_id)
            if existing is not None:
                if not _same_payment(existing, request):
                    raise already_exists(
                        f"payment {request.payment_id} was already recorded with other content",
                        "PAYMENT_ID_REUSED",
                        payment_id=request.payment_id,
                    )
                return payments_pb2.RecordPaymentResponse(payment=existing, created=False)
            payment = payments_pb2.Payment(
                payment_id=request.payment_id, order_id=request.order_id, currency=request.currency, amount=request.amount
            )
            payment.recorded_at.FromMilliseconds(int(time.time() * 1000))
            topic = self._tables.topics.payments
            try:
                partition, offset = await asyncio.wrap_future(
                    self._publisher.publish(topic, request.payment_id.encode(), payment.SerializeToString())
                )
            except StreamsError as exc:
                raise unavailable(f"the payment could not be recorded: {exc}") from exc
            await self._tables.reached(topic, partition, offset)
            return payments_pb2.RecordPaymentResponse(payment=self._tables.payment(request.payment_id) or payment, created=True)
