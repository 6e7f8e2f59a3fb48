"""CustomerService, PaymentService and the dynamic routing of orders by
customer level, through the public gRPC API on the real broker."""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from oms.customers.v1 import customers_pb2
from oms.deadletter.v1.dead_letter_pb2 import DeadLetter
from oms.payments.v1 import payments_pb2
from oms.routing.v1 import order_enriched_pb2
from tests.support.orders import eventually, place, read_topic, rpc_error, unique, unique_customer
from tests.support.platform import Platform
from topology.topics import CUSTOMER_LEVELS

pytestmark = pytest.mark.kafka

GRACE_MS = 3_000


@pytest.fixture(scope="module")
def platform(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(
        bootstrap,
        tmp_path_factory.mktemp("customers"),
        services={"gateway-0", "routing-0"},
        env={"OMS_CUSTOMER_GRACE_MS": str(GRACE_MS), "OMS_LAYOUT": "separate"},
    ).start()
    yield running
    running.stop()


def upsert(
    platform: Platform, customer_id: int, level: int = customers_pb2.CUSTOMER_LEVEL_GOLD, email: str = "jo@example.com"
) -> customers_pb2.Customer:
    customer = customers_pb2.Customer(
        customer_id=customer_id, first_name="Jo", last_name="Doe", email=email, address="1 High Street", level=level
    )
    return platform.customers.UpsertCustomer(
        customers_pb2.UpsertCustomerRequest(customer=customer), timeout=15
    ).customer


def get(platform: Platform, customer_id: int) -> customers_pb2.Customer:
    return platform.customers.GetCustomer(
        customers_pb2.GetCustomerRequest(customer_id=customer_id), timeout=10
    ).customer


def record(
    platform: Platform, payment_id: str, order_id: str, amount: float = 25.0, currency: str = "EUR"
) -> payments_pb2.RecordPaymentResponse:
    request = payments_pb2.RecordPaymentRequest(
        payment_id=payment_id, order_id=order_id, currency=currency, amount=amount
    )
    return platform.payments.RecordPayment(request, timeout=15)


def bad_fields(error: grpc.RpcError) -> set[str]:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
    status = rpc_status.from_call(error)
    bad = error_details_pb2.BadRequest()
    assert status is not None and status.details[0].Unpack(bad)
    return {v.field for v in bad.field_violations}


# Customers -------------------------------------------------------------------


def test_an_upserted_customer_is_readable_at_once(platform: Platform) -> None:
    for _ in range(10):
        customer_id = unique_customer()
        written = upsert(platform, customer_id, customers_pb2.CUSTOMER_LEVEL_SILVER)
        assert get(platform, customer_id) == written
        assert (written.customer_id, written.email, written.level) == (
            customer_id,
            "jo@example.com",
            customers_pb2.CUSTOMER_LEVEL_SILVER,
        )


def test_an_upsert_replaces_the_customer(platform: Platform) -> None:
    customer_id = unique_customer()
    upsert(platform, customer_id, customers_pb2.CUSTOMER_LEVEL_BRONZE)

    upsert(platform, customer_id, customers_pb2.CUSTOMER_LEVEL_PLATINUM, email="new@example.org")

    got = get(platform, customer_id)
    assert (got.level, got.email) == (customers_pb2.CUSTOMER_LEVEL_PLATINUM, "new@example.org")


def test_a_customer_without_a_level_is_bronze(platform: Platform) -> None:
    customer_id = unique_customer()

    written = upsert(platform, customer_id, customers_pb2.CUSTOMER_LEVEL_UNSPECIFIED)

    assert written.level == get(platform, customer_id).level == customers_pb2.CUSTOMER_LEVEL_BRONZE


def test_an_unknown_customer_is_not_found(platform: Platform) -> None:
    error = rpc_error(lambda: get(platform, unique_customer()))
    assert error.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    "email", ["", "no-at-sign", "two@@example.com", "jo@localhost", "jo@example.com\r\nBcc: x@y.zz", "a b@example.com"]
)
def test_a_customer_with_a_bad_email_is_rejected(platform: Platform, email: str) -> None:
    error = rpc_error(lambda: upsert(platform, unique_customer(), email=email))
    assert bad_fields(error) == {"customer.email"}


def test_a_malformed_customer_is_rejected_with_every_bad_field(platform: Platform) -> None:
    error = rpc_error(lambda: upsert(platform, 0, level=9, email="nope"))
    assert bad_fields(error) == {"customer.customer_id", "customer.email", "customer.level"}


def test_a_get_with_a_non_positive_id_is_rejected(platform: Platform) -> None:
    assert bad_fields(rpc_error(lambda: get(platform, -3))) == {"customer_id"}


# Payments --------------------------------------------------------------------


def test_a_payment_is_recorded_once_and_found_again(platform: Platform) -> None:
    payment_id, order_id = unique("pay"), unique("order")  # an order not placed (yet) is fine

    first = record(platform, payment_id, order_id)
    again = record(platform, payment_id, order_id)

    assert first.created and not again.created
    assert again.payment == first.payment
    assert (first.payment.order_id, first.payment.currency, first.payment.amount) == (order_id, "EUR", 25.0)
    assert first.payment.HasField("recorded_at")
    assert payments_written(platform, payment_id) == 1


def test_a_payment_id_reused_with_other_content_is_refused(platform: Platform) -> None:
    payment_id, order_id = unique("pay"), unique("order")
    record(platform, payment_id, order_id, amount=25.0)

    error = rpc_error(lambda: record(platform, payment_id, order_id, amount=26.0))

    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    status = rpc_status.from_call(error)
    info = error_details_pb2.ErrorInfo()
    assert status is not None and status.details[0].Unpack(info)
    assert info.reason == "PAYMENT_ID_REUSED"


def test_concurrent_duplicates_record_one_payment(platform: Platform) -> None:
    payment_id, order_id = unique("pay"), unique("order")

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: record(platform, payment_id, order_id), range(16)))

    assert sum(r.created for r in replies) == 1
    assert len({r.payment.SerializeToString() for r in replies}) == 1
    assert payments_written(platform, payment_id) == 1


def payments_written(platform: Platform, payment_id: str) -> int:
    return sum(
        1
        for key, _ in read_topic(platform.bootstrap, platform.settings.topic("payments"))
        if key == payment_id.encode()
    )


@pytest.mark.parametrize(
    ("amount", "currency", "fields"),
    [
        (0.0, "EUR", {"amount"}),
        (-5.0, "EUR", {"amount"}),
        (math.nan, "EUR", {"amount"}),
        (math.inf, "EUR", {"amount"}),
        (10.0, "eur", {"currency"}),
        (10.0, "EURO", {"currency"}),
        (10.0, "", {"currency"}),
        (-1.0, "E1R", {"amount", "currency"}),
    ],
)
def test_a_malformed_payment_is_rejected(platform: Platform, amount: float, currency: str, fields: set[str]) -> None:
    error = rpc_error(lambda: record(platform, unique("pay"), unique("order"), amount=amount, currency=currency))
    assert bad_fields(error) == fields


def test_a_payment_without_ids_is_rejected(platform: Platform) -> None:
    error = rpc_error(lambda: record(platform, "", "not valid!"))
    assert bad_fields(error) == {"payment_id", "order_id"}


# Dynamic routing -------------------------------------------------------------


def routed(platform: Platform, order_id: str) -> dict[str, list[order_enriched_pb2.OrderEnriched]]:
    found = {}
    for level in CUSTOMER_LEVELS:
        records = read_topic(platform.bootstrap, platform.settings.topic(level))
        found[level] = [order_enriched_pb2.OrderEnriched.FromString(v) for k, v in records if k == order_id.encode()]
    return found


def dead_letters_of(platform: Platform, order_id: str) -> list[DeadLetter]:
    records = read_topic(platform.bootstrap, platform.settings.topic("dead-letters"))
    return [DeadLetter.FromString(v) for k, v in records if k == order_id.encode()]


@pytest.mark.parametrize(
    ("level", "topic"),
    [
        (customers_pb2.CUSTOMER_LEVEL_PLATINUM, "platinum"),
        (customers_pb2.CUSTOMER_LEVEL_GOLD, "gold"),
        (customers_pb2.CUSTOMER_LEVEL_SILVER, "silver"),
        (customers_pb2.CUSTOMER_LEVEL_BRONZE, "bronze"),
    ],
)
def test_an_order_is_routed_to_the_topic_of_its_customers_level(platform: Platform, level: int, topic: str) -> None:
    customer_id = unique_customer()
    upsert(platform, customer_id, level)

    order_id = place(platform, unique("JUMPERS"), quantity=2, price=12.5, customer_id=customer_id).order.order_id

    eventually(lambda: routed(platform, order_id)[topic], what=f"{order_id} on {topic}")
    found = routed(platform, order_id)
    assert {name: len(records) for name, records in found.items()} == {
        name: int(name == topic) for name in CUSTOMER_LEVELS
    }
    (enriched,) = found[topic]
    assert (enriched.order_id, enriched.customer_id, enriched.customer_level) == (order_id, customer_id, level)
    assert (enriched.order.quantity, enriched.order.price) == (2, 12.5)


def test_an_order_of_an_unknown_customer_is_dead_lettered_with_the_reason(platform: Platform) -> None:
    customer_id = unique_customer()

    order_id = place(platform, unique("JUMPERS"), customer_id=customer_id).order.order_id

    (letter,) = eventually(
        lambda: dead_letters_of(platform, order_id), timeout_s=GRACE_MS / 1000 + 20, what="dead letter"
    )
    assert f"customer {customer_id} is unknown" in letter.reason
    assert letter.processor == "order-routing"
    assert all(not records for records in routed(platform, order_id).values())


def test_a_customer_upserted_just_after_the_order_still_gets_it_routed(platform: Platform) -> None:
    customer_id = unique_customer()
    order_id = place(platform, unique("JUMPERS"), customer_id=customer_id).order.order_id

    upsert(platform, customer_id, customers_pb2.CUSTOMER_LEVEL_PLATINUM)

    eventually(lambda: routed(platform, order_id)["platinum"], what="routed to platinum")
    assert dead_letters_of(platform, order_id) == []
