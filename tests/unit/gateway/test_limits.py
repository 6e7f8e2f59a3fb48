"""Limits at the gateway: open WatchOrder streams capped (OMS_MAX_WATCHES),
requests over the maximum size refused, the peer-channel cache bounded.
Through a real grpc.aio server built by gateway.bootstrap over in-memory ports."""

from __future__ import annotations

import asyncio

import grpc
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from gateway.adapters.peers import Router
from oms.orders.v1 import command_service_pb2, command_service_pb2_grpc, query_service_pb2, query_service_pb2_grpc
from tests.support.fakes import in_memory
from tests.support.gateway import serving


def test_watches_past_the_limit_are_resource_exhausted_and_a_closed_one_frees_its_place() -> None:
    async def scenario() -> None:
        log, reads = in_memory()
        async with serving(log, reads, max_watches=2) as (_, channel):
            commands = command_service_pb2_grpc.OrderCommandServiceStub(channel)
            queries = query_service_pb2_grpc.OrderQueryServiceStub(channel)
            await commands.PlaceOrder(
                command_service_pb2.PlaceOrderRequest(
                    order_id="o-1", customer_id=7, product="JUMPERS", quantity=1, price=2.0
                ),
                timeout=5,
            )
            request = query_service_pb2.WatchOrderRequest(order_id="o-1")
            open_watches = [queries.WatchOrder(request, timeout=30) for _ in range(2)]
            for watch in open_watches:
                await watch.read()  # the order now: the stream is open
            with_limit = queries.WatchOrder(request, timeout=5)
            try:
                await with_limit.read()
                raise AssertionError("a third watch was served")
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                status = rpc_status.from_call(error)
                assert status is not None
                info = error_details_pb2.ErrorInfo()
                assert any(d.Unpack(info) for d in status.details) and info.reason == "TOO_MANY_WATCHES"
            open_watches[0].cancel()
            await asyncio.sleep(0.1)
            again = queries.WatchOrder(request, timeout=30)
            assert (await again.read()).order.order_id == "o-1"
            again.cancel()
            open_watches[1].cancel()

    asyncio.run(scenario())


def test_a_request_over_the_maximum_size_is_refused_and_the_gateway_stays_healthy() -> None:
    async def scenario() -> None:
        log, reads = in_memory()
        async with serving(log, reads, max_request_bytes=4096) as (_, channel):
            queries = query_service_pb2_grpc.OrderQueryServiceStub(channel)
            try:
                await queries.GetOrder(query_service_pb2.GetOrderRequest(order_id="o" * 10_000), timeout=5)
                raise AssertionError("served")
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            health = health_pb2_grpc.HealthStub(channel)
            answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING

    asyncio.run(scenario())


def test_the_peer_channel_cache_keeps_the_most_recently_used_channels() -> None:
    async def scenario() -> None:
        router = Router("127.0.0.1:1", lambda tp: True, list, max_channels=3)
        first = router.channel("127.0.0.1:10")
        for port in range(11, 20):
            router.channel(f"127.0.0.1:{port}")
            assert router.channel("127.0.0.1:10") is first  # used again: kept
        assert router.open_channels() == 3
        await router.close()
        assert router.open_channels() == 0

    asyncio.run(scenario())
