"""Request checks of CustomerService and PaymentService, and the projection
of the customers and payments tables (pure)."""

from __future__ import annotations

import math
import struct

import pytest

from gateway.adapters.tables import (
    customer_key,
    decode_paid,
    order_payment_key,
    paid_key,
    payment_key,
    project_tables,
)
from gateway.app.checks import customer_violations, payment_violations
from gateway.app.handlers import normalized
from oms.customers.v1 import customers_pb2
from oms.payments.v1 import payments_pb2
from streams.records import Record
from topology.topics import Topics

TOPICS = Topics()


def customer(**fields: object) -> customers_pb2.Customer:
    values: dict[str, object] = {
        "customer_id": 1,
        "email": "jo@example.com",
        "level": customers_pb2.CUSTOMER_LEVEL_GOLD,
    }
    values.update(fields)
    return customers_pb2.Customer(**values)  # type: ignore[arg-type]


def fields(violations: list) -> set[str]:  # type: ignore[type-arg]
    return {v.field for v in violations}


@pytest.mark.parametrize("email", ["jo@example.com", "jo.doe+orders@mail.example.co.uk", "J_O@EXAMPLE.ORG"])
def test_good_customers_pass(email: str) -> None:
    assert customer_violations(customer(email=email)) == []


@pytest.mark.parametrize(
    "email",
    [
        "",
        "jo",
        "jo@",
        "@example.com",
        "jo@example",
        "jo@@example.com",
        "jo@exa mple.com",
        "jo.@example.com",
        "jo@example.com\n",
    ],
)
def test_bad_emails_are_named(email: str) -> None:
    assert fields(customer_violations(customer(email=email))) == {"customer.email"}


def test_ids_must_be_positive_and_levels_known() -> None:
    assert fields(customer_violations(customer(customer_id=0, level=5))) == {"customer.customer_id", "customer.level"}
    assert fields(customer_violations(customer(customer_id=-1))) == {"customer.customer_id"}


def test_names_with_control_characters_are_refused() -> None:
    assert fields(customer_violations(customer(first_name="Jo\r\nBcc: x"))) == {"customer.first_name"}


@pytest.mark.parametrize("text", ["Jo\u202eoJ", "Jo\u2067", "Jo\u200d", "Jo\x9b", "Jo\ufeff", "Jo\u2029"])
@pytest.mark.parametrize("field", ["first_name", "last_name", "address"])
def test_text_with_format_or_c1_characters_is_refused_naming_the_field(field: str, text: str) -> None:
    assert fields(customer_violations(customer(**{field: text}))) == {f"customer.{field}"}


def test_names_and_addresses_may_hold_any_printable_text() -> None:
    assert (
        fields(customer_violations(customer(first_name="Zoë", last_name="O'Brien-李", address="1 Rue d'Été"))) == set()
    )


def test_an_unspecified_level_is_stored_as_bronze() -> None:
    stored = normalized(customer(level=customers_pb2.CUSTOMER_LEVEL_UNSPECIFIED))
    assert stored.level == customers_pb2.CUSTOMER_LEVEL_BRONZE
    assert normalized(customer()).level == customers_pb2.CUSTOMER_LEVEL_GOLD


def payment(**fields: object) -> dict[str, object]:
    values: dict[str, object] = {"payment_id": "pay-1", "order_id": "order-1", "currency": "EUR", "amount": 10.0}
    values.update(fields)
    return values


def test_a_good_payment_passes() -> None:
    assert payment_violations(**payment()) == []
    assert payment_violations(**payment(amount=0.01, currency="JPY")) == []


@pytest.mark.parametrize("amount", [0.0, -0.01, math.nan, math.inf, -math.inf, 1e12 + 1e6, 1e308])
def test_amounts_must_be_positive_and_finite(amount: float) -> None:
    assert fields(payment_violations(**payment(amount=amount))) == {"amount"}


@pytest.mark.parametrize("currency", ["", "eur", "EU", "EURO", "E1R", "€UR"])
def test_currencies_must_be_three_capital_letters(currency: str) -> None:
    assert fields(payment_violations(**payment(currency=currency))) == {"currency"}


def test_ids_are_required_and_well_formed() -> None:
    assert fields(payment_violations(**payment(payment_id="", order_id="bad id"))) == {"payment_id", "order_id"}


def record(topic: str, key: bytes, value: bytes | None, offset: int = 0) -> Record:
    return Record(topic, 0, offset, key, value, 0)


def test_the_tables_keep_the_latest_record_per_key() -> None:
    old = customer(customer_id=7, level=customers_pb2.CUSTOMER_LEVEL_SILVER).SerializeToString()
    new = customer(customer_id=7, level=customers_pb2.CUSTOMER_LEVEL_GOLD).SerializeToString()
    paid = payments_pb2.Payment(payment_id="p1", order_id="o1").SerializeToString()

    changes = project_tables(
        [
            record(TOPICS.customers, b"7", old, 0),
            record(TOPICS.customers, b"7", new, 1),
            record(TOPICS.payments, b"p1", paid),
        ],
        TOPICS,
    )

    assert changes == {
        customer_key(7): new,
        payment_key("p1"): paid,
        paid_key("o1"): struct.pack(">q", 0),
        order_payment_key("o1", b"p1"): b"",
    }


def test_the_payments_table_keeps_each_order_s_total_counting_a_payment_id_once() -> None:
    def pay(payment_id: str, order_id: str, amount: float) -> bytes:
        return payments_pb2.Payment(payment_id=payment_id, order_id=order_id, amount=amount).SerializeToString()

    view: dict[bytes, bytes] = {}
    view.update(project_tables([record(TOPICS.payments, b"p1", pay("p1", "o1", 0.1))], TOPICS, view.get))
    view.update(
        project_tables(
            [
                record(TOPICS.payments, b"p2", pay("p2", "o1", 0.2), 1),
                record(TOPICS.payments, b"p1", pay("p1", "o1", 0.1), 2),
                record(TOPICS.payments, b"p3", pay("p3", "o2", 5.0), 3),
                record(TOPICS.payments, b"p3", pay("p3", "o2", 5.0), 4),
            ],
            TOPICS,
            view.get,
        )
    )

    assert (decode_paid(view[paid_key("o1")]), decode_paid(view[paid_key("o2")])) == (30, 500)


def test_the_tables_skip_what_they_cannot_read() -> None:
    changes = project_tables(
        [
            record(TOPICS.customers, b"7", b"\xff\xff"),
            record(TOPICS.customers, b"8", None),
            record(TOPICS.orders, b"o", b""),
        ],
        TOPICS,
    )
    assert changes == {}
