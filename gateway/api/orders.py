"""The order services: decode the request, call the handler, encode the answer.
Each call is served by the gateway instance owning the order's partition."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import grpc

from gateway.api.auth import principal
from gateway.api.routing import Routes, routed
from gateway.app import commands
from gateway.app.commands import CancelOrder, GetOrder, ListOrderEvents, PlaceOrder, ShipOrder, WatchOrder
from gateway.app.handlers import Changed, Orders
from gateway.app.ports import Position
from oms.orders.v1 import (
    command_service_pb2,
    command_service_pb2_grpc,
    order_pb2,
    query_service_pb2,
    query_service_pb2_grpc,
)

# Marks a forwarded ListOrders as one partition's part of a list.
PARTITION = "x-oms-partition"
Metadata = tuple[tuple[str, str], ...]


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
        placed = await self.orders.place(command, principal())
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
        changed: Changed = await self.orders.cancel(command, principal())
        return command_service_pb2.CancelOrderResponse(
            order=changed.order, position=_log_position(changed.position), changed=changed.changed
        )

    @routed(lambda request: ShipOrder(request.order_id), _order_partition)
    async def ShipOrder(
        self, command: commands.ShipOrder, context: grpc.aio.ServicerContext
    ) -> command_service_pb2.ShipOrderResponse:
        changed: Changed = await self.orders.ship(command, principal())
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
        return query_service_pb2.GetOrderResponse(order=await self.orders.get(query, principal()))

    @routed(
        lambda request: WatchOrder(request.order_id, _min_position(request), request.until_closed),
        _order_partition,
        _newer_versions,
    )
    async def WatchOrder(
        self, query: commands.WatchOrder, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[query_service_pb2.WatchOrderResponse]:
        async for order in self.orders.watch(query, principal()):
            yield query_service_pb2.WatchOrderResponse(order=order)

    @routed(lambda request: ListOrderEvents(request.order_id, _min_position(request)), _order_partition)
    async def ListOrderEvents(
        self, query: commands.ListOrderEvents, context: grpc.aio.ServicerContext
    ) -> query_service_pb2.ListOrderEventsResponse:
        history = await self.orders.events(query, principal())
        return query_service_pb2.ListOrderEventsResponse(events=[entry.event for entry in history])

    @staticmethod
    def _list(request: query_service_pb2.ListOrdersRequest) -> commands.ListOrders:
        return commands.ListOrders(
            request.customer_id, request.state, request.product, request.page_size, request.page_token
        )

    async def ListOrders(
        self, request: query_service_pb2.ListOrdersRequest, context: grpc.aio.ServicerContext
    ) -> query_service_pb2.ListOrdersResponse:
        """By customer: served by the owner of the customer's partition. Without:
        every partition's owner gives its part (a call marked with the
        partition), and this instance merges them into the page."""
        query = self._list(request)
        # Checked by every instance the call reaches (a forwarded call carries its token).
        self.orders.may_list(query, principal())
        stub = self.peer_stub

        if query.customer_id:
            return await self.routes.unary(
                self.orders.customer_partition(query.customer_id),
                context,
                lambda: self.orders.customer_page(query),
                lambda channel, timeout, metadata: stub(channel).ListOrders(
                    request, timeout=timeout, metadata=metadata
                ),
            )

        async def part(partition: int) -> list[order_pb2.Order]:
            async def here() -> list[order_pb2.Order]:
                return await self.orders.partition_page(query, partition)

            async def there(channel: grpc.aio.Channel, timeout: float, metadata: Metadata) -> list[order_pb2.Order]:
                answer = await stub(channel).ListOrders(
                    request, timeout=timeout, metadata=(*metadata, (PARTITION, str(partition)))
                )
                return list(answer.orders)

            return await self.routes.unary((self.orders.partition_topic, partition), context, here, there)

        asked = dict(context.invocation_metadata() or ()).get(PARTITION)
        if asked is not None:
            # One part of another instance's list: this partition only, no token.
            return query_service_pb2.ListOrdersResponse(orders=await part(int(asked)))
        parts = await asyncio.gather(*(part(p) for p in range(self.orders.order_partitions)))
        return self.orders.merged(query, list(parts))

    async def WatchOrders(
        self, request: query_service_pb2.WatchOrdersRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[query_service_pb2.WatchOrdersResponse]:
        """Served by the owner of the customer's partition. When it moves, the
        stream goes on at the new owner from the last resume token sent, so
        no change is lost and none is sent twice."""
        query = commands.WatchOrders(request.customer_id, request.resume_token)
        self.orders.may_watch(query, principal())
        stub = self.peer_stub
        last: list[commands.WatchOrders] = [query]
        sent = -2  # the offset of the last change sent (-1: the token of an empty feed)

        def resumed() -> commands.WatchOrders:
            return last[0]

        def there(channel: grpc.aio.Channel, timeout: float, metadata: Metadata) -> object:
            resumed_request = query_service_pb2.WatchOrdersRequest(
                customer_id=query.customer_id, resume_token=resumed().resume_token
            )
            return stub(channel).WatchOrders(resumed_request, timeout=timeout, metadata=metadata)

        def unseen(response: query_service_pb2.WatchOrdersResponse) -> bool:
            nonlocal sent
            offset = self.orders.resume_offset(query, response)
            if offset <= sent and response.HasField("order"):
                return False
            sent = max(sent, offset)
            last[0] = commands.WatchOrders(query.customer_id, response.resume_token)
            return True

        async for response in self.routes.stream(
            self.orders.customer_partition(query.customer_id),
            context,
            lambda: self.orders.watch_customer(resumed()),
            there,
            unseen,
        ):
            yield response
