"""The Order aggregate's lifecycle after its verdict: cancel and ship, and their guards."""

from __future__ import annotations

import pytest

from orders.domain import (
    Check,
    CheckOutcome,
    Order,
    OrderDetails,
    OrderNotCancellable,
    OrderNotShippable,
    OrderState,
    Result,
)

ALL_PASSED = tuple(CheckOutcome(c, Result.PASS) for c in Check)


def order_in(state: OrderState, quantity: int = 3, price: float = 0.1) -> Order:
    order = Order.place(OrderDetails("o-1", 7, "JUMPERS", quantity, price))
    if state is OrderState.VALIDATED:
        order.validate(checks=ALL_PASSED)
    elif state is OrderState.FAILED:
        order.fail(checks=ALL_PASSED)
    elif state is OrderState.CANCELLED:
        order.cancel(reason="first")
    elif state is OrderState.SHIPPED:
        order.validate(checks=ALL_PASSED)
        order.ship(paid=order.amount)
    order.collect_events()
    return order


@pytest.mark.parametrize("state", [OrderState.CREATED, OrderState.VALIDATED])
def test_a_created_or_validated_order_is_cancelled_with_its_reason(state: OrderState) -> None:
    order = order_in(state)
    version = order.version

    order.cancel(reason="customer asked")

    (cancelled,) = order.collect_events()
    assert isinstance(cancelled, Order.Cancelled) and cancelled.reason == "customer asked"
    assert (order.state, order.version) == (OrderState.CANCELLED, version + 1)


@pytest.mark.parametrize("state", [OrderState.FAILED, OrderState.SHIPPED, OrderState.CANCELLED])
def test_a_closed_order_refuses_a_cancel_and_records_nothing(state: OrderState) -> None:
    order = order_in(state)
    version = order.version

    with pytest.raises(OrderNotCancellable) as refused:
        order.cancel(reason="too late")

    assert refused.value.state is state
    assert (order.state, order.version, order.collect_events()) == (state, version, [])


def test_a_validated_order_paid_in_full_ships() -> None:
    order = order_in(OrderState.VALIDATED)

    order.ship(paid=0.1 + 0.1 + 0.1)  # 0.30000000000000004 against 0.30000000000000004; in cents, 30 == 30

    (shipped,) = order.collect_events()
    assert isinstance(shipped, Order.Shipped)
    assert (order.state, order.version) == (OrderState.SHIPPED, 3)


def test_money_is_compared_in_cents() -> None:
    order = order_in(OrderState.VALIDATED, quantity=1, price=0.3)

    order.ship(paid=0.1 + 0.2)  # 0.30000000000000004 > 0.3, yet the same 30 cents

    assert order.state is OrderState.SHIPPED


def test_an_unpaid_validated_order_is_refused_naming_the_payment() -> None:
    order = order_in(OrderState.VALIDATED)

    with pytest.raises(OrderNotShippable) as refused:
        order.ship(paid=0.29)

    assert [m.what for m in refused.value.missing] == ["PAYMENT"]
    assert "0.29 of 0.30 paid" in refused.value.missing[0].description
    assert (order.state, order.collect_events()) == (OrderState.VALIDATED, [])


def test_an_unvalidated_unpaid_order_is_refused_naming_both() -> None:
    order = order_in(OrderState.CREATED)

    with pytest.raises(OrderNotShippable) as refused:
        order.ship(paid=0)

    assert [m.what for m in refused.value.missing] == ["STATE", "PAYMENT"]
    assert order.version == 1


@pytest.mark.parametrize("state", [OrderState.FAILED, OrderState.CANCELLED, OrderState.SHIPPED])
def test_a_closed_order_cannot_ship(state: OrderState) -> None:
    order = order_in(state)

    with pytest.raises(OrderNotShippable) as refused:
        order.ship(paid=100)

    assert [m.what for m in refused.value.missing] == ["STATE"]
