"""The order details check: is an order well-formed enough to fulfil?"""

from __future__ import annotations

import pytest

from orders.domain import Check, OrderDetails, Result
from validators.order_details import check_order_details


def details(**changes: object) -> OrderDetails:
    fields = {"order_id": "o-1", "customer_id": 7, "product": "JUMPERS", "quantity": 3, "price": 25.0}
    fields.update(changes)
    return OrderDetails(**fields)  # type: ignore[arg-type]


def test_a_well_formed_order_passes_without_reason() -> None:
    outcome = check_order_details(details())

    assert outcome.check is Check.ORDER_DETAILS
    assert outcome.result is Result.PASS
    assert outcome.reason == ""


def test_a_free_order_passes() -> None:
    assert check_order_details(details(price=0.0)).result is Result.PASS


@pytest.mark.parametrize(
    ("changes", "reason_mentions"),
    [
        pytest.param({"quantity": 0}, "quantity", id="quantity-zero"),
        pytest.param({"quantity": -1}, "quantity", id="quantity-negative"),
        pytest.param({"price": -0.01}, "price", id="price-negative"),
        pytest.param({"price": float("nan")}, "price", id="price-nan"),
        pytest.param({"price": float("inf")}, "price", id="price-infinite"),
        pytest.param({"product": ""}, "product", id="product-missing"),
        pytest.param({"customer_id": 0}, "customer", id="customer-missing"),
        pytest.param({"customer_id": -4}, "customer", id="customer-negative"),
    ],
)
def test_a_malformed_order_fails_naming_the_problem(changes: dict[str, object], reason_mentions: str) -> None:
    outcome = check_order_details(details(**changes))

    assert outcome.check is Check.ORDER_DETAILS
    assert outcome.result is Result.FAIL
    assert reason_mentions in outcome.reason


def test_every_problem_of_an_order_is_named() -> None:
    outcome = check_order_details(details(customer_id=0, product="", quantity=-2, price=-1.0))

    assert outcome.result is Result.FAIL
    for problem in ("customer", "product", "quantity", "price"):
        assert problem in outcome.reason
