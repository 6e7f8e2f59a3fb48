"""The order services: decode the request, call the handler, encode the answer.
Each call is served by the gateway instance owning the order's partition."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import grpc

from gateway.api.routing import Routes, routed
from gateway.app import commands
from gateway.app.commands import CancelOrder, GetOrder, ListOrderEvents, PlaceOrder, ShipOrder, WatchOrder
from gateway.app.handlers import Changed, Orders
from gateway.app.ports import Position
from oms.orders.v1 import command_service_pb2, command_service_pb2_grpc, query_service_pb2, query_service_pb2_grpc


def _place(request: command_service_pb2.PlaceOrderRequest) -> PlaceOrder:
    return PlaceOrder(request.order_id, request.customer_id, request.product, request.quantity, request.price)


def _min_position(
    request: query_service_pb2.GetOrderRequest
    | query_service_pb2.WatchOrderRequest
    | query_service_pb2.ListOrderEventsRequest,
) -> tuple[int, int] | None:
    if not request.HasField("min_position"):
        return None
    return (request.min_position.partition, request.min_position.offset)


def _log_position(position: Position | None) -> command_service_pb2.LogPosition | None:
    if position is None:
        return None
    return command_service_pb2.LogPosition(partition=position.partition, offset=position.offset)


def _order_partition(
    service: OrderCommandService | OrderQueryService, command: PlaceOrder | GetOrder | CancelOrder | ShipOrder
) -> tuple[str, int]:
    return service.orders.partition(command.order_id)


def _newer_versions() -> Callable[[query_service_pb2.WatchOrderResponse], bool]:
    """Drops what a stream already sent, when it goes on elsewhere."""
    sent = -1

    def unseen(response: query_service_pb2.WatchOrderResponse) -> bool:
        nonlocal sent
        if response.order.version <= sent:
            return False
        sent = response.order.version
        return True

    return unseen


class OrderCommandService(command_service_pb2_grpc.OrderCommandServiceServicer):
    peer_stub = command_service_pb2_grpc.OrderCommandServiceStub

    def __init__(self, orders: Orders, routes: Routes) -> None:
        self.orders = orders
        self.routes = routes

    @routed(_place, _order_partition)
    async def PlaceOrder(
        self, command: PlaceOrder, context: grpc.aio.ServicerContext
    ) -> command_service_pb2.PlaceOrderResponse:
        placed = await self.orders.place(command)
        position = None
        if placed.position is not None:
            position = command_service_pb2.LogPosition(
                partition=placed.position.partition, offset=placed.position.offset
            )
        return command_service_pb2.PlaceOrderResponse(order=placed.value, position=position, created=placed.created)

    @routed(lambda request: CancelOrder(request.order_id, request.reason), _order_partition)
    async def CancelOrder(
        self, command: commands.CancelOrder, context: grpc.aio.ServicerContext
    ) -> command_service_pb2.CancelOrderResponse:
        changed: Changed = await self.orders.cancel(command)
        return command_service_pb2.CancelOrderResponse(
            order=changed.order, position=_log_position(changed.position), changed=changed.changed
        )

    @routed(lambda request: ShipOrder(request.order_id), _order_partition)
    async def ShipOrder(
        self, command: commands.ShipOrder, context: grpc.aio.ServicerContext
    ) -> command_service_pb2.ShipOrderResponse:
        changed: Changed = await self.orders.ship(command)
        return command_service_pb2.ShipOrderResponse(
            order=changed.order, position=_log_position(changed.position), changed=changed.changed
        )


class OrderQueryService(query_service_pb2_grpc.OrderQueryServiceServicer):
    peer_stub = query_service_pb2_grpc.OrderQueryServiceStub

    def __init__(self, orders: Orders, routes: Routes) -> None:
        self.orders = orders
        self.routes = routes

    @routed(lambda request: GetOrder(request.order_id, _min_position(request)), _order_partition)
    async def GetOrder(self, query: GetOrder, context: grpc.aio.ServicerContext) -> query_service_pb2.GetOrderResponse:
        return query_service_pb2.GetOrderResponse(order=await self.orders.get(query))

    @routed(
        lambda request: WatchOrder(request.order_id, _min_position(request), request.until_closed),
        _order_partition,
        _newer_versions,
    )
    async def WatchOrder(
        self, query: commands.WatchOrder, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[query_service_pb2.WatchOrderResponse]:
        async for order in self.orders.watch(query):
            yield query_service_pb2.WatchOrderResponse(order=order)

    @routed(lambda request: ListOrderEvents(request.order_id, _min_position(request)), _order_partition)
    async def ListOrderEvents(
        self, query: commands.ListOrderEvents, context: grpc.aio.ServicerContext
    ) -> query_service_pb2.ListOrderEventsResponse:
        history = await self.orders.events(query)
        return query_service_pb2.ListOrderEventsResponse(events=[entry.event for entry in history])

    # Step 3 of issue 15 (ListOrders, WatchOrders) comes next; until then they say so.
    async def ListOrders(
        self, request: query_service_pb2.ListOrdersRequest, context: grpc.aio.ServicerContext
    ) -> query_service_pb2.ListOrdersResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "ListOrders is not served yet")
        raise AssertionError("unreachable")

    async def WatchOrders(
        self, request: query_service_pb2.WatchOrdersRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[query_service_pb2.WatchOrdersResponse]:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "WatchOrders is not served yet")
        yield query_service_pb2.WatchOrdersResponse()
