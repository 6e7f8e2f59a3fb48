"""Load shedding at the gateway: past its limit of unary calls in flight, a
call is answered RESOURCE_EXHAUSTED at once, with details; streams and
health checks are not limited. Through a real grpc.aio server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
from google.rpc import error_details_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from gateway.api.admission import CallLimit
from gateway.api.errors import ErrorStatuses
from oms.orders.v1 import order_pb2, query_service_pb2, query_service_pb2_grpc
from tests.support.grpc_server import channel_to_server

LIMIT = 2


class Stalled(query_service_pb2_grpc.OrderQueryServiceServicer):
    """Holds every call until `release` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0

    async def GetOrder(
        self, request: query_service_pb2.GetOrderRequest, context: object
    ) -> query_service_pb2.GetOrderResponse:
        self.started += 1
        await self.release.wait()
        return query_service_pb2.GetOrderResponse(order=order_pb2.Order(order_id=request.order_id))

    async def WatchOrder(
        self, request: query_service_pb2.WatchOrderRequest, context: object
    ) -> AsyncIterator[query_service_pb2.WatchOrderResponse]:
        yield query_service_pb2.WatchOrderResponse(order=order_pb2.Order(order_id=request.order_id))
        await self.release.wait()


async def until(condition: object, timeout_s: float = 5.0) -> None:
    async def poll() -> None:
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout_s)


def test_calls_past_the_limit_are_shed_at_once_and_the_rest_still_served() -> None:
    async def scenario() -> None:
        servicer = Stalled()

        def register(server: grpc.aio.Server) -> None:
            query_service_pb2_grpc.add_OrderQueryServiceServicer_to_server(servicer, server)
            health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)

        async with channel_to_server(register, [ErrorStatuses(), CallLimit(LIMIT)]) as channel:
            queries = query_service_pb2_grpc.OrderQueryServiceStub(channel)
            # Streams do not count: two of them, then the limit's worth of unary calls.
            streams = [queries.WatchOrder(query_service_pb2.WatchOrderRequest(order_id=f"w{i}")) for i in range(2)]
            for stream in streams:
                await stream.read()
            held = [
                asyncio.ensure_future(queries.GetOrder(query_service_pb2.GetOrderRequest(order_id=f"o{i}"), timeout=10))
                for i in range(LIMIT)
            ]
            await until(lambda: servicer.started == LIMIT)

            try:
                await queries.GetOrder(query_service_pb2.GetOrderRequest(order_id="one-too-many"), timeout=2)
                raise AssertionError("the call past the limit was served")
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                status = rpc_status.from_call(error)
            assert servicer.started == LIMIT
            assert status is not None
            info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
            assert status.details[0].Unpack(info) and info.reason == "OVERLOADED"
            assert status.details[1].Unpack(retry) and retry.retry_delay.ToMilliseconds() > 0

            health_stub = health_pb2_grpc.HealthStub(channel)
            checked = await health_stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
            assert checked.status == health_pb2.HealthCheckResponse.SERVING

            servicer.release.set()
            assert [r.order.order_id for r in await asyncio.gather(*held)] == ["o0", "o1"]
            # Capacity is back once the held calls are done.
            servicer.release = asyncio.Event()
            servicer.release.set()
            again = await queries.GetOrder(query_service_pb2.GetOrderRequest(order_id="later"), timeout=2)
            assert again.order.order_id == "later"
            for stream in streams:
                stream.cancel()

    asyncio.run(scenario())
