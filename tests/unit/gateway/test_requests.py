"""Request shape checks of PlaceOrder (a PlaceOrder command checks itself when
made): bad fields are named, business rules are not enforced here."""

from __future__ import annotations

import math

import pytest
from google.rpc import code_pb2, error_details_pb2

from gateway.api.errors import status_of
from gateway.app.commands import GetOrder, GetStock, PlaceOrder
from gateway.app.errors import InvalidRequest
from orders.domain import OrderDetails


def request(**changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "order_id": "order-1",
        "customer_id": 7,
        "product": "JUMPERS",
        "quantity": 2,
        "price": 9.5,
    }
    fields.update(changes)
    return fields


def place_order_details(fields: dict[str, object]) -> OrderDetails:
    return PlaceOrder(**fields).details  # type: ignore[arg-type]


def violations(error: InvalidRequest) -> dict[str, str]:
    """The BadRequest field violations of the INVALID_ARGUMENT status it answers, by field."""
    status = status_of(error)
    assert status.code == code_pb2.INVALID_ARGUMENT
    (detail,) = status.details
    bad = error_details_pb2.BadRequest()
    assert detail.Unpack(bad)
    return {v.field: v.description for v in bad.field_violations}


def rejected_fields(**changes: object) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as raised:
        place_order_details(request(**changes))
    return violations(raised.value)


def test_a_well_formed_request_gives_the_order_details() -> None:
    assert place_order_details(request()) == OrderDetails("order-1", 7, "JUMPERS", 2, 9.5)


@pytest.mark.parametrize(
    "order_id",
    ["a" * 64, "A-z.0_9:x", "1"],
    ids=["max-length", "every-allowed-char-class", "one-char"],
)
def test_allowed_order_ids_are_accepted(order_id: str) -> None:
    assert place_order_details(request(order_id=order_id)).order_id == order_id


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"order_id": ""}, "order_id", id="order-id-empty"),
        pytest.param({"order_id": "a" * 65}, "order_id", id="order-id-too-long"),
        pytest.param({"order_id": "has space"}, "order_id", id="order-id-space"),
        pytest.param({"order_id": "a/b"}, "order_id", id="order-id-slash"),
        pytest.param({"order_id": "ordér"}, "order_id", id="order-id-non-ascii"),
        pytest.param({"order_id": "abc\n"}, "order_id", id="order-id-trailing-newline"),
        pytest.param({"customer_id": 0}, "customer_id", id="customer-id-zero"),
        pytest.param({"customer_id": -1}, "customer_id", id="customer-id-negative"),
        pytest.param({"product": ""}, "product", id="product-empty"),
        pytest.param({"product": "P" * 65}, "product", id="product-too-long"),
        pytest.param({"price": math.nan}, "price", id="price-nan"),
        pytest.param({"price": math.inf}, "price", id="price-infinite"),
        pytest.param({"price": -math.inf}, "price", id="price-minus-infinite"),
        pytest.param({"price": 1e308, "quantity": 2}, "price", id="total-overflows-to-infinity"),
        pytest.param({"price": 2e12}, "price", id="price-over-the-maximum"),
        pytest.param({"price": 1e9, "quantity": 1001}, "price", id="total-over-the-maximum"),
        pytest.param({"quantity": 2**62}, "quantity", id="quantity-over-the-maximum"),
        pytest.param({"product": "JUMP\u202eSREP"}, "product", id="product-bidi-override"),
        pytest.param({"product": "JUMP\u2066ERS"}, "product", id="product-bidi-isolate"),
        pytest.param({"product": "JUMP\u200bERS"}, "product", id="product-zero-width-space"),
        pytest.param({"product": "JUMP\x85ERS"}, "product", id="product-c1-control"),
        pytest.param({"product": "JUMP\x00ERS"}, "product", id="product-nul"),
        pytest.param({"product": "JUMP\u2028ERS"}, "product", id="product-line-separator"),
    ],
)
def test_a_bad_field_is_rejected_as_invalid_argument_naming_it(changes: dict[str, object], field: str) -> None:
    fields = rejected_fields(**changes)

    assert list(fields) == [field]
    assert fields[field]


def test_every_bad_field_is_named_at_once() -> None:
    fields = rejected_fields(order_id="", customer_id=0, product="", price=math.nan)

    assert set(fields) == {"order_id", "customer_id", "product", "price"}


def test_the_error_message_names_the_bad_fields() -> None:
    with pytest.raises(InvalidRequest) as raised:
        place_order_details(request(order_id="", price=math.inf))

    assert "order_id" in str(raised.value) and "price" in str(raised.value)
    assert status_of(raised.value).message == str(raised.value)


def test_the_largest_order_value_is_accepted_and_products_may_hold_any_printable_text() -> None:
    assert place_order_details(request(price=1e9, quantity=1000)).price == 1e9
    assert place_order_details(request(product="Pull à col roulé, 红色")).product == "Pull à col roulé, 红色"


def test_a_product_of_the_maximum_length_is_accepted() -> None:
    assert place_order_details(request(product="P" * 64)).product == "P" * 64


@pytest.mark.parametrize(
    "changes",
    [{"quantity": -3}, {"quantity": 0}, {"price": -2.5}],
    ids=["negative-quantity", "zero-quantity", "negative-price"],
)
def test_business_rule_violations_are_left_to_the_validators(changes: dict[str, object]) -> None:
    details = place_order_details(request(**changes))

    for name, value in changes.items():
        assert getattr(details, name) == value


def test_queries_reject_an_order_id_or_product_with_the_same_violations() -> None:
    with pytest.raises(InvalidRequest) as bad_id:
        GetOrder("no spaces allowed")
    with pytest.raises(InvalidRequest) as bad_product:
        GetStock("")

    assert list(violations(bad_id.value)) == ["order_id"]
    assert list(violations(bad_product.value)) == ["product"]
    assert GetOrder("ok-1").order_id == "ok-1"
    assert GetStock("JUMPERS").product == "JUMPERS"
