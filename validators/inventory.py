"""Inventory check: reserve warehouse stock for each order, or refuse it.

An order passes when the stock not yet reserved covers it; its reservation is
given back when the order fails or is cancelled, and leaves stock for good
(quantity and reserved both drop) when it ships. Each happens once per order. An order for a product that has no stock
record fails rather than waits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from orders.domain import Check, CheckOutcome, Result


@dataclass(frozen=True, slots=True)
class Stock:
    stocked: bool = False
    quantity: int = 0
    reserved: int = 0
    update_id: str = ""

    @property
    def available(self) -> int:
        return self.quantity - self.reserved


class HoldState(StrEnum):
    HELD = "HELD"
    RELEASED = "RELEASED"
    REFUSED = "REFUSED"
    SHIPPED = "SHIPPED"


@dataclass(frozen=True, slots=True)
class Hold:
    """What one order holds of one product."""

    quantity: int
    state: HoldState


def set_stock(stock: Stock, quantity: int, update_id: str) -> Stock:
    return replace(stock, stocked=True, quantity=quantity, update_id=update_id)


def reserve(stock: Stock, hold: Hold | None, product: str, quantity: int) -> tuple[CheckOutcome | None, Stock, Hold]:
    """Checks and reserves; no outcome if this order was already seen."""
    if hold is not None:
        return None, stock, hold
    if not stock.stocked:
        outcome = CheckOutcome(Check.INVENTORY, Result.FAIL, f"no stock record for product {product!r}")
        return outcome, stock, Hold(quantity, HoldState.REFUSED)
    if quantity <= 0:
        outcome = CheckOutcome(Check.INVENTORY, Result.FAIL, f"quantity {quantity} is not positive")
        return outcome, stock, Hold(quantity, HoldState.REFUSED)
    if stock.available - quantity >= 0:
        after = replace(stock, reserved=stock.reserved + quantity)
        return CheckOutcome(Check.INVENTORY, Result.PASS), after, Hold(quantity, HoldState.HELD)
    reason = f"{quantity} of {product!r} requested, {max(stock.available, 0)} available"
    return CheckOutcome(Check.INVENTORY, Result.FAIL, reason), stock, Hold(quantity, HoldState.REFUSED)


def release(stock: Stock, hold: Hold | None, quantity: int) -> tuple[Stock, Hold]:
    """Gives back what an order holds. A release before any reservation is
    remembered, so that the late reservation is refused."""
    if hold is None:
        return stock, Hold(quantity, HoldState.RELEASED)
    if hold.state is not HoldState.HELD:
        return stock, hold
    return replace(stock, reserved=stock.reserved - hold.quantity), replace(hold, state=HoldState.RELEASED)


def ship(stock: Stock, hold: Hold | None) -> tuple[Stock, Hold | None]:
    """The units an order holds leave stock: quantity and reserved both drop,
    once. Only a held reservation ships (a shipped order passed this check)."""
    if hold is None or hold.state is not HoldState.HELD:
        return stock, hold
    after = replace(stock, quantity=stock.quantity - hold.quantity, reserved=stock.reserved - hold.quantity)
    return after, replace(hold, state=HoldState.SHIPPED)
