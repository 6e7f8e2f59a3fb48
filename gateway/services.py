"""The public gRPC services. Thin: check the request, call the domain or the
read model, encode the answer."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import grpc

from gateway import requests
from gateway.errors import FieldViolation, already_exists, invalid_argument, not_found, unavailable
from gateway.read_model import ReadModel
from gateway.forwarding import Router
from gateway.notifier import PartitionMoved
from gateway.tasks import outlive_cancellation
from gateway.view import order_key, stock_key
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from oms.orders.v1 import command_service_pb2, command_service_pb2_grpc, order_pb2, query_service_pb2, query_service_pb2_grpc
from orders import codec
from orders.domain import Order, OrderDetails
from streams.kafka import Publisher, StreamsError

TERMINAL = frozenset(
    {
        order_pb2.ORDER_STATE_VALIDATED,
        order_pb2.ORDER_STATE_FAILED,
        order_pb2.ORDER_STATE_SHIPPED,
        order_pb2.ORDER_STATE_CANCELLED,
    }
)


def _details_of(order: order_pb2.Order) -> OrderDetails:
    return OrderDetails(order.order_id, order.customer_id, order.product, order.quantity, order.price)


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = defaultdict(int)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]


class OrderCommandService(command_service_pb2_grpc.OrderCommandServiceServicer):
    """Places orders; the gateway instance owning the order's partition writes it."""

    def __init__(
        self, reads: ReadModel, publisher: Publisher, router: Router, placed: Callable[[], None] = lambda: None
    ) -> None:
        self._reads = reads
        self._publisher = publisher
        self._router = router
        # Called once per OrderPlaced written (the orders placed metric).
        self._placed = placed
        # Concurrent placements of one order id in this process are serialized,
        # so exactly one of them writes the event.
        self._locks = KeyedLocks()

    async def PlaceOrder(
        self, request: command_service_pb2.PlaceOrderRequest, context: grpc.aio.ServicerContext
    ) -> command_service_pb2.PlaceOrderResponse:
        requests.place_order_details(request)
        return await self._router.unary(
            self._router.partition_of(self._reads.topics.orders, request.order_id),
            context,
            lambda: self._place(request),
            lambda channel, timeout, metadata: command_service_pb2_grpc.OrderCommandServiceStub(channel).PlaceOrder(
                request, timeout=timeout, metadata=metadata
            ),
        )

    async def _place(self, request: command_service_pb2.PlaceOrderRequest) -> command_service_pb2.PlaceOrderResponse:
        details = requests.place_order_details(request)
        self._reads.require_ready()
        # Check and write run as a task of their own, which a cancelled call
        # (say, a client's deadline) does not abandon: the order id's lock is
        # held until the write is settled, so a retry never writes it twice.
        return await outlive_cancellation(self._place_once(details))

    async def _place_once(self, details: OrderDetails) -> command_service_pb2.PlaceOrderResponse:
        async with self._locks.hold(details.order_id):
            existing = await self._reads.order_before_placing(details.order_id)
            if existing is not None:
                if _details_of(existing) != details:
                    raise already_exists(
                        f"order {details.order_id} was already placed with other content",
                        "ORDER_ID_REUSED",
                        order_id=details.order_id,
                    )
                return command_service_pb2.PlaceOrderResponse(order=existing, created=False)
            order = Order.place(details)
            (event,) = codec.events_to_pb(order, order.collect_events())
            # The checks above awaited; the partition may have moved meanwhile,
            # and the new owner may be placing this very order.
            self._reads.require_here(self._reads.order_partition(details.order_id))
            try:
                partition, offset = await asyncio.wrap_future(
                    self._publisher.publish(self._reads.topics.orders, details.order_id.encode(), event.SerializeToString())
                )
            except StreamsError as exc:
                raise unavailable(f"the order could not be recorded: {exc}") from exc
            self._placed()
            position = command_service_pb2.LogPosition(partition=partition, offset=offset)
            try:
                await self._reads.reached(position)
            except PartitionMoved:
                # Recorded all the same, by this call: a retry at the new owner
                # would answer "not created". Reads there wait for the order
                # (or for this position) before they answer.
                pass
            # The order as placed: by now the view may already show a verdict,
            # which WatchOrder reports as the change it is.
            return command_service_pb2.PlaceOrderResponse(order=event.order, position=position, created=True)


class OrderQueryService(query_service_pb2_grpc.OrderQueryServiceServicer):
    """Answers from the view of the gateway instance owning the order's partition."""

    def __init__(self, reads: ReadModel, router: Router) -> None:
        self._reads = reads
        self._router = router

    async def _known(self, order_id: str, min_position: command_service_pb2.LogPosition | None) -> order_pb2.Order:
        requests.require_order_id(order_id)
        self._reads.require_ready()
        if min_position is not None:
            await self._reads.reached(min_position)
        order = await self._reads.order_when_known(order_id)
        if order is None:
            raise not_found("order", order_id, f"no order {order_id}")
        return order

    async def GetOrder(
        self, request: query_service_pb2.GetOrderRequest, context: grpc.aio.ServicerContext
    ) -> query_service_pb2.GetOrderResponse:
        requests.require_order_id(request.order_id)
        return await self._router.unary(
            self._router.partition_of(self._reads.topics.orders, request.order_id),
            context,
            lambda: self._get_here(request),
            lambda channel, timeout, metadata: query_service_pb2_grpc.OrderQueryServiceStub(channel).GetOrder(
                request, timeout=timeout, metadata=metadata
            ),
        )

    async def _get_here(self, request: query_service_pb2.GetOrderRequest) -> query_service_pb2.GetOrderResponse:
        position = request.min_position if request.HasField("min_position") else None
        return query_service_pb2.GetOrderResponse(order=await self._known(request.order_id, position))

    async def WatchOrder(
        self, request: query_service_pb2.WatchOrderRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[query_service_pb2.WatchOrderResponse]:
        requests.require_order_id(request.order_id)
        sent = -1

        def unseen(response: query_service_pb2.WatchOrderResponse) -> bool:
            nonlocal sent
            if response.order.version <= sent:
                return False
            sent = response.order.version
            return True

        async for response in self._router.stream(
            self._router.partition_of(self._reads.topics.orders, request.order_id),
            context,
            lambda: self._watch_here(request),
            lambda channel, timeout, metadata: query_service_pb2_grpc.OrderQueryServiceStub(channel).WatchOrder(
                request, timeout=timeout, metadata=metadata
            ),
            resume=unseen,
        ):
            yield response

    async def _watch_here(
        self, request: query_service_pb2.WatchOrderRequest
    ) -> AsyncIterator[query_service_pb2.WatchOrderResponse]:
        # Registered before the first read, so no change can slip in between.
        with self._reads.notifier.watch(order_key(request.order_id), self._reads.order_partition(request.order_id)) as updates:
            position = request.min_position if request.HasField("min_position") else None
            order = await self._known(request.order_id, position)
            yield query_service_pb2.WatchOrderResponse(order=order)
            while order.state not in TERMINAL:
                newer = order_pb2.Order.FromString(await updates.get())
                if newer.version > order.version:
                    order = newer
                    yield query_service_pb2.WatchOrderResponse(order=order)


def _stock_pb(level: inventory_pb2.InventoryLevel) -> inventory_pb2.ProductStock:
    return inventory_pb2.ProductStock(product=level.product, quantity=level.quantity, reserved=level.reserved)


class InventoryService(inventory_pb2_grpc.InventoryServiceServicer):
    # How long SetStock waits for the inventory check to apply a new level.
    APPLY_TIMEOUT_S = 15.0

    def __init__(self, reads: ReadModel, publisher: Publisher, router: Router) -> None:
        self._reads = reads
        self._publisher = publisher
        self._router = router

    def _partition(self, product: str) -> tuple[str, int]:
        return self._router.partition_of(self._reads.topics.inventory_levels, product)

    async def SetStock(
        self, request: inventory_pb2.SetStockRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb2.SetStockResponse:
        return await self._router.unary(
            self._partition(request.product),
            context,
            lambda: self._set(request),
            lambda channel, timeout, metadata: inventory_pb2_grpc.InventoryServiceStub(channel).SetStock(
                request, timeout=timeout, metadata=metadata
            ),
        )

    async def _set(self, request: inventory_pb2.SetStockRequest) -> inventory_pb2.SetStockResponse:
        violations = requests.product_violations(request.product)
        if request.quantity < 0:
            violations.append(FieldViolation("quantity", "must be 0 or more"))
        if violations:
            raise invalid_argument(violations)
        update_id = uuid.uuid4().hex
        level = inventory_pb2.StockLevel(product=request.product, quantity=request.quantity, update_id=update_id)
        tp = self._partition(request.product)
        with self._reads.notifier.watch(stock_key(request.product), tp) as updates:
            self._reads.require_here(tp)  # before writing: the new owner watches for it there
            try:
                await asyncio.wrap_future(
                    self._publisher.publish(
                        self._reads.topics.warehouse_inventory, request.product.encode(), level.SerializeToString()
                    )
                )
            except StreamsError as exc:
                raise unavailable(f"the stock level could not be recorded: {exc}") from exc
            try:
                applied = await asyncio.wait_for(self._applied(updates, update_id), self.APPLY_TIMEOUT_S)
            except TimeoutError:
                raise unavailable(
                    "the stock level is recorded but the inventory check has not applied it yet", retry_after_s=5
                ) from None
        return inventory_pb2.SetStockResponse(stock=_stock_pb(applied))

    async def _applied(self, updates: asyncio.Queue[bytes], update_id: str) -> inventory_pb2.InventoryLevel:
        level = None
        while level is None or level.update_id != update_id:
            level = inventory_pb2.InventoryLevel.FromString(await updates.get())
        return level

    async def GetStock(
        self, request: inventory_pb2.GetStockRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb2.GetStockResponse:
        return await self._router.unary(
            self._partition(request.product),
            context,
            lambda: self._get_here(request),
            lambda channel, timeout, metadata: inventory_pb2_grpc.InventoryServiceStub(channel).GetStock(
                request, timeout=timeout, metadata=metadata
            ),
        )

    async def _get_here(self, request: inventory_pb2.GetStockRequest) -> inventory_pb2.GetStockResponse:
        requests.require_product(request.product)
        self._reads.require_ready()
        level = self._reads.stock(request.product)
        if level is None or not level.stocked:
            raise not_found("product", request.product, f"no stock record for product {request.product}")
        return inventory_pb2.GetStockResponse(stock=_stock_pb(level))
