"""Two instances of every service on six partitions: every call works at
every instance, whoever owns the key, and through the shared front door."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from oms.orders.v1 import order_pb2, query_service_pb2, query_service_pb2_grpc
from streams.kafka import group_members
from tests.support.orders import eventually, final_state, place, set_stock, unique
from tests.support.platform import Platform

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture(scope="module")
def platform(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(bootstrap, tmp_path_factory.mktemp("scale"), instances=2, partitions=6).start()
    yield running
    running.stop()


def instance_addresses(platform: Platform) -> list[str]:
    """The gateways' own addresses, by instance id, found the way they find each other."""
    group = platform.settings.topic("order-view")

    def owners() -> list[str]:
        members = group_members(platform.bootstrap, group)
        if len(members) != 2 or not all(m.partitions for m in members):
            return []
        return [m.client_id for m in sorted(members, key=lambda m: m.group_instance_id or "")]

    return eventually(owners, timeout_s=60, what="two gateways own partitions")  # type: ignore[return-value]


def test_orders_placed_anywhere_are_readable_everywhere(platform: Platform) -> None:
    # Both gateways own partitions before the first write: a SetStock that
    # waits at an owner whose partition then moves answers UNAVAILABLE.
    addresses = instance_addresses(platform)
    product = unique("JUMPERS")
    set_stock(platform, product, 100)
    channels = [grpc.insecure_channel(a) for a in addresses]
    queries = [query_service_pb2_grpc.OrderQueryServiceStub(c) for c in channels]

    ids = [place(platform, product).order.order_id for _ in range(20)]

    for order_id in ids:
        for query in queries:
            got = query.GetOrder(query_service_pb2.GetOrderRequest(order_id=order_id), timeout=10).order
            assert got.order_id == order_id
        last = list(queries[1].WatchOrder(query_service_pb2.WatchOrderRequest(order_id=order_id), timeout=30))[-1]
        assert last.order.state == order_pb2.ORDER_STATE_VALIDATED
    stocks = [
        inventory_pb2_grpc.InventoryServiceStub(c)
        .GetStock(inventory_pb2.GetStockRequest(product=product), timeout=10)
        .stock
        for c in channels
    ]
    assert stocks[0] == stocks[1] and stocks[0].reserved == 20
    for channel in channels:
        channel.close()


def test_an_unknown_order_is_not_found_at_every_instance(platform: Platform) -> None:
    for address in instance_addresses(platform):
        with grpc.insecure_channel(address) as channel:
            query = query_service_pb2_grpc.OrderQueryServiceStub(channel)
            with pytest.raises(grpc.RpcError) as raised:
                query.GetOrder(query_service_pb2.GetOrderRequest(order_id=unique("ghost")), timeout=10)
            assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_calls_wait_out_a_crashed_owner(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 100)
    ids = [place(platform, product).order.order_id for _ in range(10)]
    survivor = instance_addresses(platform)[0]  # gateway-0

    platform.kill("gateway-1")
    platform.supervise()
    with grpc.insecure_channel(survivor) as channel:
        query = query_service_pb2_grpc.OrderQueryServiceStub(channel)
        for order_id in ids:
            # Until gateway-1 is back, its partitions have no live owner: the call waits.
            got = query.GetOrder(query_service_pb2.GetOrderRequest(order_id=order_id), timeout=60)
            assert got.order.order_id == order_id
            platform.supervise()
    platform.wait_serving()
    assert final_state(platform, place(platform, product).order.order_id).state == order_pb2.ORDER_STATE_VALIDATED
