"""AsyncOmsClient against an in-process grpc.aio server on loopback whose
servicers play scripted behaviour (grpc_testing's channel is sync only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
import grpc.aio
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from oms_client import AsyncOmsClient, InvalidArgument, NotFound, RetryPolicy, Unavailable
from oms_client._gen.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from oms_client._gen.orders.v1 import (
    command_service_pb2,
    command_service_pb2_grpc,
    order_pb2,
    query_service_pb2,
    query_service_pb2_grpc,
)

CREATED, VALIDATED = order_pb2.ORDER_STATE_CREATED, order_pb2.ORDER_STATE_VALIDATED
FAST = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05, jitter=0)
T = TypeVar("T")


def order(order_id: str, state: int, version: int) -> order_pb2.Order:
    return order_pb2.Order(order_id=order_id, product="JUMPERS", quantity=1, price=1.0, state=state, version=version)  # type: ignore[arg-type]


def status(code: int, message: str, *details: Any) -> grpc.Status:
    packed = []
    for detail in details:
        item = any_pb2.Any()
        item.Pack(detail)
        packed.append(item)
    return rpc_status.to_status(status_pb2.Status(code=code, message=message, details=packed))


class Commands(command_service_pb2_grpc.OrderCommandServiceServicer):
    def __init__(self) -> None:
        self.requests: list[command_service_pb2.PlaceOrderRequest] = []
        self.failures: list[grpc.Status] = []

    async def PlaceOrder(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # type: ignore[override]
        self.requests.append(request)
        if self.failures:
            await context.abort_with_status(self.failures.pop(0))
        return command_service_pb2.PlaceOrderResponse(
            order=order(request.order_id, CREATED, 1), created=len(self.requests) == 1
        )


class Queries(query_service_pb2_grpc.OrderQueryServiceServicer):
    def __init__(self) -> None:
        self.states: list[order_pb2.Order] = []
        self.break_after: int | None = None
        self.release = asyncio.Event()
        self.hold_after: int | None = None
        self.cancelled = asyncio.Event()
        self.watches = 0

    async def GetOrder(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # type: ignore[override]
        await context.abort_with_status(
            status(
                code_pb2.NOT_FOUND,
                f"no order {request.order_id}",
                error_details_pb2.ResourceInfo(resource_type="order", resource_name=request.order_id),
            )
        )

    async def WatchOrder(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:  # type: ignore[override]
        self.watches += 1
        try:
            for n, state in enumerate(self.states):
                if self.break_after is not None and n == self.break_after and self.watches == 1:
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "gateway restarting")
                if self.hold_after is not None and n == self.hold_after:
                    await self.release.wait()
                yield query_service_pb2.WatchOrderResponse(order=state)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


class Inventory(inventory_pb2_grpc.InventoryServiceServicer):
    async def SetStock(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # type: ignore[override]
        return inventory_pb2.SetStockResponse(
            stock=inventory_pb2.ProductStock(product=request.product, quantity=request.quantity)
        )


class Server:
    def __init__(self) -> None:
        self.commands, self.queries = Commands(), Queries()
        self.sleeps: list[float] = []

    async def __aenter__(self) -> Server:
        self.server = grpc.aio.server()
        command_service_pb2_grpc.add_OrderCommandServiceServicer_to_server(self.commands, self.server)
        query_service_pb2_grpc.add_OrderQueryServiceServicer_to_server(self.queries, self.server)
        inventory_pb2_grpc.add_InventoryServiceServicer_to_server(Inventory(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        return self

    def client(self, **kwargs: Any) -> AsyncOmsClient:
        async def sleep(delay: float) -> None:
            self.sleeps.append(delay)

        return AsyncOmsClient(f"127.0.0.1:{self.port}", retry=FAST, sleep=sleep, **kwargs)

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop(None)


def run(test: Callable[[Server], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Server() as server:
            return await asyncio.wait_for(test(server), 20)

    return asyncio.run(main())


def test_place_order_retries_unavailable_with_one_key() -> None:
    async def scenario(server: Server) -> None:
        server.commands.failures = [status(code_pb2.UNAVAILABLE, "broker down")] * 2
        async with server.client() as oms:
            placed = await oms.place_order(customer_id=42, product="JUMPERS", quantity=1, price=9.5)
        keys = {r.order_id for r in server.commands.requests}
        assert len(server.commands.requests) == 3 and keys == {placed.order.order_id}
        assert server.sleeps == [0.01, 0.02]

    run(scenario)


def test_errors_carry_their_details() -> None:
    async def scenario(server: Server) -> None:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field="customer_id", description="must be greater than 0")
            ]
        )
        server.commands.failures = [status(code_pb2.INVALID_ARGUMENT, "customer_id: must be greater than 0", bad)]
        async with server.client() as oms:
            with pytest.raises(InvalidArgument) as invalid:
                await oms.place_order(customer_id=0, product="JUMPERS", quantity=1, price=1.0)
            with pytest.raises(NotFound) as missing:
                await oms.get_order("order-9")
        assert [(v.field, v.description) for v in invalid.value.field_violations] == [
            ("customer_id", "must be greater than 0")
        ]
        assert len(server.commands.requests) == 1, "INVALID_ARGUMENT is not retried"
        assert missing.value.resource_name == "order-9"

    run(scenario)


def test_watch_order_is_an_async_iterator_of_states() -> None:
    async def scenario(server: Server) -> None:
        server.queries.states = [order("order-1", CREATED, 1), order("order-1", VALIDATED, 2)]
        async with server.client() as oms:
            states = [o.state async for o in oms.watch_order("order-1")]
            final = await oms.wait_for_terminal("order-1")
        assert states == [CREATED, VALIDATED] and final.state == VALIDATED

    run(scenario)


def test_leaving_a_watch_cancels_the_stream() -> None:
    async def scenario(server: Server) -> None:
        server.queries.states = [order("order-1", CREATED, 1), order("order-1", VALIDATED, 2)]
        server.queries.hold_after = 1
        async with server.client() as oms:
            watch = oms.watch_order("order-1")
            async for first in watch:
                assert first.state == CREATED
                break
            await watch.aclose()
            await asyncio.wait_for(server.queries.cancelled.wait(), 5)

    run(scenario)


def test_a_broken_watch_resumes_without_repeating_states() -> None:
    async def scenario(server: Server) -> None:
        server.queries.states = [order("order-1", CREATED, 1), order("order-1", VALIDATED, 2)]
        server.queries.break_after = 1
        async with server.client() as oms:
            seen = [(o.state, o.version) async for o in oms.watch_order("order-1")]
        assert seen == [(CREATED, 1), (VALIDATED, 2)] and server.queries.watches == 2

    run(scenario)


def test_set_stock_unwraps_the_stock() -> None:
    async def scenario(server: Server) -> None:
        async with server.client() as oms:
            stock = await oms.set_stock("JUMPERS", 7)
        assert (stock.product, stock.quantity) == ("JUMPERS", 7)

    run(scenario)


def test_nothing_listening_raises_unavailable_within_the_deadline() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with AsyncOmsClient("127.0.0.1:1", timeout=1.0, retry=FAST) as oms:
            with pytest.raises(Unavailable):
                await oms.get_stock("JUMPERS")
        assert loop.time() - started < 5

    asyncio.run(scenario())
