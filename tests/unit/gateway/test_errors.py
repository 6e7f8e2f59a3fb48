"""ErrorStatuses: an application error raised by a servicer becomes the
call's status, with its machine-readable details."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway.api.errors import ErrorStatuses
from gateway.app.errors import NotFound
from oms.orders.v1 import order_pb2, query_service_pb2, query_service_pb2_grpc
from tests.support.grpc_server import channel_to_server


class _Queries(query_service_pb2_grpc.OrderQueryServiceServicer):
    async def GetOrder(self, request, context):  # type: ignore[no-untyped-def]
        raise NotFound("order", request.order_id, f"no order {request.order_id}")

    async def WatchOrder(self, request, context):  # type: ignore[no-untyped-def]
        yield query_service_pb2.WatchOrderResponse(order=order_pb2.Order(order_id=request.order_id, version=1))
        raise NotFound("order", request.order_id, "gone mid-stream")


def _resource(error: grpc.aio.AioRpcError) -> error_details_pb2.ResourceInfo:
    status = rpc_status.from_call(error)
    assert status is not None, "the rich status is missing from the trailers"
    info = error_details_pb2.ResourceInfo()
    assert status.details[0].Unpack(info)
    return info


def test_unary_and_streaming_calls_answer_with_the_raised_status_and_details() -> None:
    async def main() -> None:
        def register(server: grpc.aio.Server) -> None:
            query_service_pb2_grpc.add_OrderQueryServiceServicer_to_server(_Queries(), server)

        async with channel_to_server(register, [ErrorStatuses()]) as channel:
            stub = query_service_pb2_grpc.OrderQueryServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await stub.GetOrder(query_service_pb2.GetOrderRequest(order_id="o-1"), timeout=5)
            assert failed.value.code() == grpc.StatusCode.NOT_FOUND
            assert failed.value.details() == "no order o-1"
            assert (_resource(failed.value).resource_type, _resource(failed.value).resource_name) == ("order", "o-1")

            received = []
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                async for response in stub.WatchOrder(query_service_pb2.WatchOrderRequest(order_id="o-2"), timeout=5):
                    received.append(response.order.version)
            assert received == [1], "what was sent before the error still arrives"
            assert failed.value.code() == grpc.StatusCode.NOT_FOUND
            assert _resource(failed.value).resource_name == "o-2"

    asyncio.run(asyncio.wait_for(main(), 20))
