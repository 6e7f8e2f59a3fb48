"""ListOrders and WatchOrders through gRPC on the real broker, with two
instances of every service on six partitions: paging while orders keep
coming, reading one's own writes, forged page tokens, and a customer's
change stream across a partition move."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from launcher.__main__ import service_specs
from launcher.supervisor import Supervisor
from oms.orders.v1 import order_pb2, query_service_pb2
from streams.partitioning import partition_for
from tests.support.orders import eventually, final_state, place, rpc_error, set_stock, unique, unique_customer
from tests.support.platform import Platform

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PARTITIONS = 6


@pytest.fixture(scope="module")
def platform(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(bootstrap, tmp_path_factory.mktemp("lists"), instances=2, partitions=PARTITIONS).start()
    yield running
    running.stop()


def list_orders(platform: Platform, **request: object) -> query_service_pb2.ListOrdersResponse:
    return platform.queries.ListOrders(query_service_pb2.ListOrdersRequest(**request), timeout=30)  # type: ignore[arg-type]


def every_page(platform: Platform, on_page: object = None, **request: object) -> list[order_pb2.Order]:
    orders: list[order_pb2.Order] = []
    token = ""
    while True:
        page = list_orders(platform, page_token=token, **request)
        orders += page.orders
        if on_page is not None:
            on_page()  # type: ignore[operator]
        if not page.next_page_token:
            return orders
        token = page.next_page_token


def newest_first(orders: list[order_pb2.Order]) -> bool:
    keys = [(-o.placed_at.ToMilliseconds(), o.order_id) for o in orders]
    return keys == sorted(keys)


def test_paging_is_stable_while_orders_keep_coming_and_reads_one_s_writes(platform: Platform) -> None:
    product = unique("PAGED")
    set_stock(platform, product, 10_000)
    customer = unique_customer()
    before = [place(platform, product, customer_id=customer).order.order_id for _ in range(20)]
    before += [place(platform, product).order.order_id for _ in range(20)]  # other customers
    stop = threading.Event()
    later: list[str] = []

    def keep_placing() -> None:
        while not stop.is_set():
            later.append(place(platform, product, customer_id=customer).order.order_id)
            later.append(place(platform, product).order.order_id)

    placer = threading.Thread(target=keep_placing)
    placer.start()
    try:
        by_product = every_page(platform, product=product, page_size=7)  # fans out to both instances
        by_customer = every_page(platform, customer_id=customer, page_size=3)  # one owner
    finally:
        stop.set()
        placer.join()

    for listed, expected in ((by_product, before), (by_customer, before[:20])):
        listed_ids = [o.order_id for o in listed]
        assert len(listed_ids) == len(set(listed_ids)), "an order on two pages"
        assert set(expected) <= set(listed_ids), "an order placed before the listing is missing"
        assert newest_first(listed)
    assert all(o.customer_id == customer for o in by_customer)
    assert later, "orders kept coming"

    # Reads its writes: an order acknowledged just now is on the first page, at once.
    fresh = place(platform, product, customer_id=customer).order.order_id
    assert list_orders(platform, customer_id=customer, page_size=1).orders[0].order_id == fresh
    assert list_orders(platform, product=product, page_size=1).orders[0].order_id == fresh
    # A state's list holds the orders in that state, and follows them there.
    validated = list_orders(platform, customer_id=customer, state=order_pb2.ORDER_STATE_VALIDATED, page_size=500)
    assert all(o.state == order_pb2.ORDER_STATE_VALIDATED for o in validated.orders)
    decided = final_state(platform, fresh).state
    other = (
        order_pb2.ORDER_STATE_FAILED if decided == order_pb2.ORDER_STATE_VALIDATED else order_pb2.ORDER_STATE_VALIDATED
    )

    def listed_in(state: int) -> bool:
        page = list_orders(platform, customer_id=customer, state=state, page_size=500)
        return fresh in {o.order_id for o in page.orders}

    eventually(lambda: listed_in(decided) and not listed_in(other), what="the fresh order listed in its own state only")


def test_a_forged_or_foreign_page_token_is_invalid_argument(platform: Platform) -> None:
    customer = unique_customer()
    product = unique("TOKENS")
    set_stock(platform, product, 100)
    for _ in range(3):
        place(platform, product, customer_id=customer)
    token = list_orders(platform, customer_id=customer, page_size=1).next_page_token
    assert token

    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for request in (
        {"customer_id": customer, "page_token": forged},
        {"customer_id": customer + 1, "page_token": token},  # another list's
        {"product": product, "page_token": token},
        {"page_token": "not-a-token"},
    ):
        error = rpc_error(lambda request=request: list_orders(platform, **request))  # type: ignore[misc]
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, request


def customers_on_every_partition() -> list[int]:
    found: dict[int, int] = {}
    while len(found) < PARTITIONS:
        customer = unique_customer()
        found.setdefault(partition_for(str(customer).encode(), PARTITIONS), customer)
    return list(found.values())


@pytest.fixture()
def one_gateway(bootstrap: str, tmp_path: Path) -> Iterator[Platform]:
    """Two instances of everything but the gateway, whose second instance starts later."""
    names = [s.name for s in service_specs(2, "combined") if s.name != "gateway-1"]
    running = Platform(bootstrap, tmp_path, services=names, instances=2, partitions=PARTITIONS).start()
    yield running
    running.stop()


def test_watch_orders_loses_nothing_across_a_partition_move_and_a_reconnect(one_gateway: Platform) -> None:
    platform = one_gateway
    product = unique("WATCHED")
    set_stock(platform, product, 10_000)
    customers = customers_on_every_partition()  # some of them move when gateway-1 joins
    received: dict[int, list[query_service_pb2.WatchOrdersResponse]] = {c: [] for c in customers}
    started = threading.Barrier(len(customers) + 1)
    done = threading.Event()

    def watch(customer: int) -> None:
        stream = platform.queries.WatchOrders(query_service_pb2.WatchOrdersRequest(customer_id=customer), timeout=120)
        started_once = False
        try:
            for response in stream:
                if not started_once:
                    started_once = True
                    started.wait()
                received[customer].append(response)
                if done.is_set():
                    break
        except grpc.RpcError as error:
            if error.code() is not grpc.StatusCode.CANCELLED:
                received[customer].append(error)  # type: ignore[arg-type]
        finally:
            stream.cancel()

    watchers = [threading.Thread(target=watch, args=(c,), daemon=True) for c in customers]
    for watcher in watchers:
        watcher.start()
    started.wait(timeout=60)
    placed: dict[int, list[str]] = {c: [] for c in customers}

    def place_round() -> None:
        for customer in customers:
            placed[customer].append(place(platform, product, customer_id=customer).order.order_id)

    place_round()
    newcomer = Supervisor([s for s in service_specs(2, "combined") if s.name == "gateway-1"], platform.env)
    newcomer.start()
    try:
        for _ in range(6):
            place_round()
            time.sleep(1)

        def complete() -> bool:
            # Each order's placement and verdict, once each.
            return all(len([r for r in received[c] if r.HasField("order")]) >= 2 * len(placed[c]) for c in customers)

        eventually(complete, timeout_s=90, what="every change streamed")
        done.set()
        time.sleep(1.5)
        # A reconnect with a token goes on right after it (while both gateways
        # serve: a stopped static member keeps its partitions for a session).
        customer = customers[0]
        streamed = [r for r in received[customer] if r.HasField("order")]
        middle = len(placed[customer])
        resumed = platform.queries.WatchOrders(
            query_service_pb2.WatchOrdersRequest(customer_id=customer, resume_token=streamed[middle].resume_token),
            timeout=30,
        )
        again = [next(resumed) for _ in streamed[middle + 1 :]]
        resumed.cancel()
    finally:
        newcomer.stop()

    assert [(r.order.order_id, r.order.version) for r in again] == [
        (r.order.order_id, r.order.version) for r in streamed[middle + 1 :]
    ]
    for customer in customers:
        responses = received[customer]
        assert all(isinstance(r, query_service_pb2.WatchOrdersResponse) for r in responses), responses[-1:]
        changes = [(r.order.order_id, r.order.version) for r in responses if r.HasField("order")]
        assert len(changes) == len(set(changes)), f"a change sent twice to {customer}"
        assert {o for o, _v in changes} == set(placed[customer])
        assert {(o, 1) for o in placed[customer]} | {(o, 2) for o in placed[customer]} == set(changes)
