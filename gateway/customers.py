"""CustomerService: customers go to the compacted `customers` topic (key:
customer id) and are read back from the gateway's customers table."""

from __future__ import annotations

import asyncio
import re

import grpc

from gateway.errors import FieldViolation, invalid_argument, not_found, unavailable
from gateway.tables import Tables, customer_record_key
from oms.customers.v1 import customers_pb2, customers_pb2_grpc
from streams.kafka import Publisher, StreamsError

# A pragmatic address check (RFC 5321 sizes, dot-atom local part, DNS labels),
# not full RFC 5322: what a confirmation email can be sent to.
EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
MAX_EMAIL_LENGTH = 254
MAX_TEXT_LENGTH = 256
KNOWN_LEVELS = frozenset(customers_pb2.CustomerLevel.values())


def customer_id_violations(customer_id: int, field: str = "customer_id") -> list[FieldViolation]:
    return [] if customer_id > 0 else [FieldViolation(field, "must be greater than 0")]


def customer_violations(customer: customers_pb2.Customer, prefix: str = "customer.") -> list[FieldViolation]:
    violations = customer_id_violations(customer.customer_id, prefix + "customer_id")
    if not customer.email:
        violations.append(FieldViolation(prefix + "email", "is required"))
    elif len(customer.email) > MAX_EMAIL_LENGTH or not EMAIL.fullmatch(customer.email):
        violations.append(FieldViolation(prefix + "email", "must be an email address such as jo@example.com"))
    if customer.level not in KNOWN_LEVELS:
        violations.append(FieldViolation(prefix + "level", f"unknown level {customer.level}"))
    for name in ("first_name", "last_name", "address"):
        value = getattr(customer, name)
        if len(value) > MAX_TEXT_LENGTH or any(ord(c) < 32 for c in value):
            violations.append(FieldViolation(prefix + name, f"must be at most {MAX_TEXT_LENGTH} characters, without control characters"))
    return violations


def normalized(customer: customers_pb2.Customer) -> customers_pb2.Customer:
    """The record as stored: an unspecified level is bronze."""
    stored = customers_pb2.Customer()
    stored.CopyFrom(customer)
    if stored.level == customers_pb2.CUSTOMER_LEVEL_UNSPECIFIED:
        stored.level = customers_pb2.CUSTOMER_LEVEL_BRONZE
    return stored


class CustomerService(customers_pb2_grpc.CustomerServiceServicer):
    def __init__(self, tables: Tables, publisher: Publisher) -> None:
        self._tables = tables
        self._publisher = publisher

    async def UpsertCustomer(
        self, request: customers_pb2.UpsertCustomerRequest, context: grpc.aio.ServicerContext
    ) -> customers_pb2.UpsertCustomerResponse:
        return await self._upsert(request.customer)

    async def _upsert(self, customer: customers_pb2.Customer) -> customers_pb2.UpsertCustomerResponse:
        violations = customer_violations(customer)
        if violations:
            raise invalid_argument(violations)
        self._tables.require_healthy()
        stored = normalized(customer)
        try:
            partition, offset = await asyncio.wrap_future(
                self._publisher.publish(
                    self._tables.topics.customers, customer_record_key(stored.customer_id), stored.SerializeToString()
                )
            )
        except StreamsError as exc:
            raise unavailable(f"the customer could not be recorded: {exc}") from exc
        # Read your writes: a GetCustomer after this answer sees the customer.
        await self._tables.reached(self._tables.topics.customers, partition, offset)
        return customers_pb2.UpsertCustomerResponse(customer=stored)

    async def GetCustomer(
        self, request: customers_pb2.GetCustomerRequest, context: grpc.aio.ServicerContext
    ) -> customers_pb2.GetCustomerResponse:
        violations = customer_id_violations(request.customer_id)
        if violations:
            raise invalid_argument(violations)
        self._tables.require_healthy()
        customer = await self._tables.customer_now(request.customer_id)
        if customer is None:
            raise not_found("customer", str(request.customer_id), f"no customer {request.customer_id}")
        return customers_pb2.GetCustomerResponse(customer=customer)
