"""InventoryService: decode, call the handler, encode. Each call is served by
the gateway instance owning the product's partition of inventory-levels."""

from __future__ import annotations

import grpc

from gateway.api.auth import principal
from gateway.api.routing import Routes, routed
from gateway.app.commands import GetStock, SetStock
from gateway.app.handlers import Inventory
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc


def _stock_pb(level: inventory_pb2.InventoryLevel) -> inventory_pb2.ProductStock:
    return inventory_pb2.ProductStock(product=level.product, quantity=level.quantity, reserved=level.reserved)


def _product_partition(service: InventoryService, command: SetStock | GetStock) -> tuple[str, int]:
    return service.inventory.partition(command.product)


class InventoryService(inventory_pb2_grpc.InventoryServiceServicer):
    peer_stub = inventory_pb2_grpc.InventoryServiceStub

    def __init__(self, inventory: Inventory, routes: Routes) -> None:
        self.inventory = inventory
        self.routes = routes

    @routed(lambda request: SetStock(request.product, request.quantity), _product_partition)
    async def SetStock(self, command: SetStock, context: grpc.aio.ServicerContext) -> inventory_pb2.SetStockResponse:
        return inventory_pb2.SetStockResponse(stock=_stock_pb(await self.inventory.set(command, principal())))

    @routed(lambda request: GetStock(request.product), _product_partition)
    async def GetStock(self, query: GetStock, context: grpc.aio.ServicerContext) -> inventory_pb2.GetStockResponse:
        return inventory_pb2.GetStockResponse(stock=_stock_pb(await self.inventory.get(query)))
