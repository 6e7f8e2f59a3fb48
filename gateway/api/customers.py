"""CustomerService: decode, call the handler, encode. Any instance answers
(every instance holds the whole customers table): nothing is forwarded."""

from __future__ import annotations

import grpc

from gateway.api.auth import principal
from gateway.app.commands import GetCustomer, UpsertCustomer
from gateway.app.handlers import Customers
from oms.customers.v1 import customers_pb2, customers_pb2_grpc


class CustomerService(customers_pb2_grpc.CustomerServiceServicer):
    def __init__(self, customers: Customers) -> None:
        self.customers = customers

    async def UpsertCustomer(
        self, request: customers_pb2.UpsertCustomerRequest, context: grpc.aio.ServicerContext
    ) -> customers_pb2.UpsertCustomerResponse:
        stored = await self.customers.upsert(UpsertCustomer(request.customer), principal())
        return customers_pb2.UpsertCustomerResponse(customer=stored)

    async def GetCustomer(
        self, request: customers_pb2.GetCustomerRequest, context: grpc.aio.ServicerContext
    ) -> customers_pb2.GetCustomerResponse:
        customer = await self.customers.get(GetCustomer(request.customer_id), principal())
        return customers_pb2.GetCustomerResponse(customer=customer)
