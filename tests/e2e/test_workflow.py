"""Every scenario of WORKFLOW-SPEC.md, through the public gRPC API, on the
real broker, with every service running as its own process."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import command_service_pb2, events_pb2, order_pb2, query_service_pb2
from tests.support.orders import (
    eventually,
    final_state,
    order_events,
    outcome,
    place,
    read_topic,
    rpc_error,
    set_stock,
    unique,
    unique_customer,
)
from tests.support.platform import Platform

pytestmark = pytest.mark.kafka

VALIDATED = order_pb2.ORDER_STATE_VALIDATED
FAILED = order_pb2.ORDER_STATE_FAILED
PASS = order_pb2.CHECK_RESULT_PASS
FAIL = order_pb2.CHECK_RESULT_FAIL


@pytest.fixture(scope="module")
def platform(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(bootstrap, tmp_path_factory.mktemp("platform")).start()
    yield running
    running.stop()


def test_a_placed_order_is_validated_and_readable(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 10)

    placed = place(platform, product, quantity=2, price=12.5)

    assert placed.created
    assert placed.order.state == order_pb2.ORDER_STATE_CREATED
    final = final_state(platform, placed.order.order_id)
    assert final.state == VALIDATED
    assert [c.result for c in final.checks] == [PASS, PASS, PASS]
    got = platform.queries.GetOrder(query_service_pb2.GetOrderRequest(order_id=placed.order.order_id), timeout=5)
    assert got.order == final


def test_ten_orders_within_stock_are_all_validated(platform: Platform) -> None:
    underpants, jumpers = unique("UNDERPANTS"), unique("JUMPERS")
    set_stock(platform, underpants, 75)
    set_stock(platform, jumpers, 10)

    ids = [place(platform, jumpers).order.order_id for _ in range(10)]

    assert [final_state(platform, i).state for i in ids] == [VALIDATED] * 10
    stock = platform.inventory.GetStock(inventory_pb2.GetStockRequest(product=jumpers), timeout=5).stock
    assert (stock.quantity, stock.reserved) == (10, 10)


def test_ten_orders_without_stock_all_fail_the_inventory_check(platform: Platform) -> None:
    jumpers = unique("JUMPERS")
    set_stock(platform, jumpers, 0)

    ids = [place(platform, jumpers).order.order_id for _ in range(10)]

    finals = [final_state(platform, i) for i in ids]
    assert [f.state for f in finals] == [FAILED] * 10
    assert all(outcome(f, order_pb2.CHECK_TYPE_INVENTORY).result == FAIL for f in finals)


def test_inventory_reserves_until_stock_runs_out(platform: Platform) -> None:
    underpants, jumpers = unique("UNDERPANTS"), unique("JUMPERS")
    set_stock(platform, underpants, 75)
    set_stock(platform, jumpers, 1)

    ids = [
        place(platform, underpants, quantity=3).order.order_id,
        place(platform, jumpers, quantity=1).order.order_id,
        place(platform, jumpers, quantity=1).order.order_id,
    ]

    results = [outcome(final_state(platform, i), order_pb2.CHECK_TYPE_INVENTORY) for i in ids]
    assert [r.result for r in results] == [PASS, PASS, FAIL]
    assert "1 of" in results[2].reason and "0 available" in results[2].reason


@pytest.mark.parametrize(
    ("orders", "expected"),
    [
        ([(3, 5.0), (1, 75.0)], [PASS, PASS]),
        ([(1, 75.0), (1, 75.0), (50, 75.0)], [PASS, PASS, FAIL]),
        ([(10, 100.0), (10, 100.0), (1, 5.0)], [PASS, FAIL, FAIL]),
    ],
    ids=["customer-0-small", "customer-1-over-limit", "customer-2-exactly-2000"],
)
def test_fraud_check_sums_a_customers_session(
    platform: Platform, orders: list[tuple[int, float]], expected: list[int]
) -> None:
    product = unique("STOCKINGS")
    set_stock(platform, product, 1000)
    customer = unique_customer()

    ids = [place(platform, product, quantity=q, price=p, customer_id=customer).order.order_id for q, p in orders]

    results = [outcome(final_state(platform, i), order_pb2.CHECK_TYPE_FRAUD).result for i in ids]
    assert results == expected


@pytest.mark.parametrize(
    ("quantity", "price", "problem"),
    [(-1, 10.0, "quantity"), (0, 10.0, "quantity"), (1, -5.0, "price")],
)
def test_order_details_check_fails_impossible_orders(
    platform: Platform, quantity: int, price: float, problem: str
) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 10)

    placed = place(platform, product, quantity=quantity, price=price)

    final = final_state(platform, placed.order.order_id)
    assert final.state == FAILED
    details = outcome(final, order_pb2.CHECK_TYPE_ORDER_DETAILS)
    assert details.result == FAIL and problem in details.reason


def test_details_pass_for_a_positive_quantity(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 10)
    final = final_state(platform, place(platform, product, quantity=3).order.order_id)
    assert outcome(final, order_pb2.CHECK_TYPE_ORDER_DETAILS).result == PASS


def test_an_order_for_a_product_without_stock_record_fails(platform: Platform) -> None:
    final = final_state(platform, place(platform, unique("NEVER-STOCKED")).order.order_id)
    assert final.state == FAILED
    inventory = outcome(final, order_pb2.CHECK_TYPE_INVENTORY)
    assert inventory.result == FAIL and "no stock record" in inventory.reason


def test_a_failed_order_gives_its_reservation_back(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 5)

    # Inventory reserves 3, but the negative price fails the details check.
    order_id = place(platform, product, quantity=3, price=-1.0).order.order_id

    assert final_state(platform, order_id).state == FAILED
    # The verdict may come before the inventory check answers; its answer
    # (written in the same transaction as the reservation) shows it reserved.
    inventory = eventually(
        lambda: validations_of(platform, order_id, order_pb2.CHECK_TYPE_INVENTORY), what="inventory answer"
    )
    assert [v.outcome.result for v in inventory] == [PASS]
    eventually(
        lambda: (
            platform.inventory.GetStock(inventory_pb2.GetStockRequest(product=product), timeout=5).stock.reserved == 0
        ),
        what="reservation released",
    )
    assert final_state(platform, place(platform, product, quantity=5).order.order_id).state == VALIDATED


def validations_of(platform: Platform, order_id: str, check: int) -> list[events_pb2.OrderValidation]:
    records = read_topic(platform.bootstrap, platform.settings.topic("order-validations"))
    found = [events_pb2.OrderValidation.FromString(v) for k, v in records if k == order_id.encode() and v]
    return [v for v in found if v.outcome.check_type == check]


def test_placing_again_with_the_same_content_returns_the_same_order(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 10)
    first = place(platform, product, quantity=2, customer_id=7, order_id=unique("idem"))

    again = place(platform, product, quantity=2, customer_id=7, order_id=first.order.order_id)

    assert not again.created
    assert again.order.order_id == first.order.order_id
    assert again.order.placed_at == first.order.placed_at


def test_placing_an_id_again_with_other_content_is_refused(platform: Platform) -> None:
    product = unique("JUMPERS")
    order_id = unique("idem")
    place(platform, product, quantity=2, order_id=order_id, customer_id=7)

    error = rpc_error(lambda: place(platform, product, quantity=3, order_id=order_id, customer_id=7))

    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    status = rpc_status.from_call(error)
    info = error_details_pb2.ErrorInfo()
    assert status is not None and status.details[0].Unpack(info)
    assert info.reason == "ORDER_ID_REUSED"


def test_concurrent_duplicates_write_one_event(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 10)
    order_id = unique("race")

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: place(platform, product, order_id=order_id, customer_id=3), range(16)))

    assert sum(r.created for r in replies) == 1
    final_state(platform, order_id)
    events = [e for e in order_events(platform.bootstrap, platform.settings.topic("orders")) if e.order_id == order_id]
    assert Counter(e.WhichOneof("kind") for e in events) == {"placed": 1, "validated": 1}


def test_malformed_requests_are_rejected_with_field_details(platform: Platform) -> None:
    request = command_service_pb2.PlaceOrderRequest(order_id="not valid!", customer_id=0, product="", price=math.inf)

    error = rpc_error(lambda: platform.commands.PlaceOrder(request, timeout=5))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(error)
    bad = error_details_pb2.BadRequest()
    assert status is not None and status.details[0].Unpack(bad)
    assert {v.field for v in bad.field_violations} == {"order_id", "customer_id", "product", "price"}


def test_an_order_never_placed_is_not_found(platform: Platform) -> None:
    error = rpc_error(
        lambda: platform.queries.GetOrder(query_service_pb2.GetOrderRequest(order_id=unique("ghost")), timeout=5)
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_a_write_is_readable_as_soon_as_it_is_acknowledged(platform: Platform) -> None:
    product = unique("JUMPERS")
    for _ in range(20):
        placed = place(platform, product)
        got = platform.queries.GetOrder(query_service_pb2.GetOrderRequest(order_id=placed.order.order_id), timeout=5)
        assert got.order.order_id == placed.order.order_id


def test_many_watchers_of_one_order_all_see_its_verdict(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 10)
    order_id = place(platform, product).order.order_id

    with ThreadPoolExecutor(20) as pool:
        finals = list(pool.map(lambda _: final_state(platform, order_id).state, range(20)))

    assert finals == [VALIDATED] * 20


def test_a_watch_streams_current_state_then_changes(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 10)
    order_id = place(platform, product).order.order_id

    states = [
        u.order.state
        for u in platform.queries.WatchOrder(query_service_pb2.WatchOrderRequest(order_id=order_id), timeout=30)
    ]

    # It may attach before or after the verdict; either way it ends on it, once.
    assert states in ([order_pb2.ORDER_STATE_CREATED, VALIDATED], [VALIDATED])


def test_undecodable_records_go_to_dead_letters_and_work_goes_on(platform: Platform) -> None:
    from confluent_kafka import Producer

    from oms.deadletter.v1 import dead_letter_pb2, dead_letter_service_pb2

    producer = Producer({"bootstrap.servers": platform.bootstrap})
    producer.produce(platform.settings.topic("orders"), b"\xff\x00garbage", b"bad-record")
    producer.flush(10)
    product = unique("JUMPERS")
    set_stock(platform, product, 10)

    assert final_state(platform, place(platform, product).order.order_id).state == VALIDATED
    letters = eventually(
        lambda: [
            dead_letter_pb2.DeadLetter.FromString(v)
            for k, v in read_topic(platform.bootstrap, platform.settings.topic("dead-letters"))
            if k == b"bad-record"
        ],
        what="dead letters",
    )
    assert {letter.value for letter in letters} == {b"\xff\x00garbage"}
    assert all(letter.reason for letter in letters)

    # Operators read them through the API: everything dead-lettered before the call.
    listed = platform.dead_letters.ListDeadLetters(dead_letter_service_pb2.ListDeadLettersRequest(), timeout=15)
    ours = [e.dead_letter for e in listed.dead_letters if e.dead_letter.key == b"bad-record"]
    assert sorted(letter.processor for letter in ours) == sorted(letter.processor for letter in letters)
    assert {(letter.value, letter.reason) for letter in ours} == {(letter.value, letter.reason) for letter in letters}
    processor = letters[0].processor
    one = platform.dead_letters.ListDeadLetters(
        dead_letter_service_pb2.ListDeadLettersRequest(processor=processor), timeout=15
    )
    assert one.dead_letters and {e.dead_letter.processor for e in one.dead_letters} == {processor}
