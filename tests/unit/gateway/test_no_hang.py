"""No request can hang a gateway: a GetOrder or WatchOrder whose min_position
names another partition than the order's is refused at once, one beyond the
log's end answers within the call's deadline, and health checks keep
answering while such calls are in flight. Through a real grpc.aio server
built by gateway.bootstrap over in-memory ports."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from oms.orders.v1 import command_service_pb2, command_service_pb2_grpc, query_service_pb2, query_service_pb2_grpc
from tests.support.fakes import in_memory
from tests.support.gateway import serving


async def _placed(channel: grpc.aio.Channel) -> command_service_pb2.PlaceOrderResponse:
    commands = command_service_pb2_grpc.OrderCommandServiceStub(channel)
    return await commands.PlaceOrder(
        command_service_pb2.PlaceOrderRequest(order_id="o-1", customer_id=7, product="JUMPERS", quantity=1, price=2.0),
        timeout=5,
    )


async def _healthy(channel: grpc.aio.Channel) -> bool:
    health = health_pb2_grpc.HealthStub(channel)
    answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=2)
    return answer.status == health_pb2.HealthCheckResponse.SERVING


def _bad_fields(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    return [v.field for v in bad.field_violations]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("method", ["GetOrder", "WatchOrder"])
def test_a_position_in_another_partition_is_invalid_and_the_gateway_stays_healthy(method: str) -> None:
    async def scenario() -> None:
        log, reads = in_memory()
        async with serving(log, reads) as (_, channel):
            placed = await _placed(channel)
            queries = query_service_pb2_grpc.OrderQueryServiceStub(channel)
            request_type = getattr(query_service_pb2, f"{method}Request")
            for partition in (99, (placed.position.partition + 1) % 3):
                request = request_type(order_id="o-1", min_position={"partition": partition})
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    call = getattr(queries, method)(request, timeout=5)
                    if method == "WatchOrder":
                        async for _ in call:
                            pass
                    else:
                        await call
                assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert _bad_fields(raised.value) == ["min_position.partition"]
                assert await _healthy(channel)

    asyncio.run(scenario())


@pytest.mark.timeout(30)
def test_a_position_beyond_the_log_answers_by_the_deadline_while_health_checks_answer() -> None:
    async def scenario() -> None:
        log, reads = in_memory()
        async with serving(log, reads) as (_, channel):
            placed = await _placed(channel)
            queries = query_service_pb2_grpc.OrderQueryServiceStub(channel)
            beyond = {"partition": placed.position.partition, "offset": 10**12}
            waiting = [
                asyncio.ensure_future(
                    queries.GetOrder(query_service_pb2.GetOrderRequest(order_id="o-1", min_position=beyond), timeout=2)
                )
                for _ in range(5)
            ]
            for _ in range(5):
                assert await _healthy(channel)
            for call in waiting:
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    await call
                assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert await _healthy(channel)

    asyncio.run(scenario())
