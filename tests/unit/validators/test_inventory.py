"""The inventory check: reserve warehouse stock per order, or refuse it (pure rules)."""

from __future__ import annotations

from orders.domain import Check, CheckOutcome, Result
from validators.inventory import Hold, HoldState, Stock, release, reserve, set_stock, ship


class Warehouse:
    """Stock and holds per product, threaded through the pure rules."""

    def __init__(self, **stock: int) -> None:
        self.stock: dict[str, Stock] = {p: set_stock(Stock(), q, f"set-{p}") for p, q in stock.items()}
        self.holds: dict[tuple[str, str], Hold] = {}

    def order(self, order_id: str, product: str, quantity: int) -> CheckOutcome | None:
        hold = self.holds.get((product, order_id))
        outcome, self.stock[product], self.holds[(product, order_id)] = reserve(
            self.stock.get(product, Stock()), hold, product, quantity
        )
        return outcome

    def fail(self, order_id: str, product: str, quantity: int) -> None:
        hold = self.holds.get((product, order_id))
        self.stock[product], self.holds[(product, order_id)] = release(self.stock.get(product, Stock()), hold, quantity)

    def ship(self, order_id: str, product: str) -> None:
        hold = self.holds.get((product, order_id))
        self.stock[product], after = ship(self.stock.get(product, Stock()), hold)
        if after is not None:
            self.holds[(product, order_id)] = after

    def reserved(self, product: str) -> int:
        return self.stock[product].reserved


def result(outcome: CheckOutcome | None) -> Result:
    assert outcome is not None, "expected an outcome"
    assert outcome.check is Check.INVENTORY
    return outcome.result


def test_reference_scenario() -> None:
    warehouse = Warehouse(UNDERPANTS=75, JUMPERS=1)

    results = [
        result(warehouse.order("o1", "UNDERPANTS", 3)),
        result(warehouse.order("o2", "JUMPERS", 1)),
        result(warehouse.order("o3", "JUMPERS", 1)),
    ]

    assert results == [Result.PASS, Result.PASS, Result.FAIL]
    assert warehouse.reserved("UNDERPANTS") == 3
    assert warehouse.reserved("JUMPERS") == 1


def test_a_refusal_says_how_much_was_asked_and_is_available() -> None:
    warehouse = Warehouse(JUMPERS=2)

    outcome = warehouse.order("o1", "JUMPERS", 5)

    assert outcome is not None and outcome.result is Result.FAIL
    assert "5" in outcome.reason and "2 available" in outcome.reason
    assert warehouse.reserved("JUMPERS") == 0


def test_an_order_taking_the_last_unit_passes() -> None:
    warehouse = Warehouse(JUMPERS=4)

    assert result(warehouse.order("o1", "JUMPERS", 4)) is Result.PASS
    assert warehouse.stock["JUMPERS"].available == 0


def test_a_product_without_stock_record_fails_with_reason() -> None:
    warehouse = Warehouse()

    outcome = warehouse.order("o1", "STOCKINGS", 1)

    assert outcome is not None and outcome.result is Result.FAIL
    assert "no stock record" in outcome.reason and "STOCKINGS" in outcome.reason


def test_a_product_stocked_at_zero_is_known_but_out_of_stock() -> None:
    warehouse = Warehouse(STOCKINGS=0)

    outcome = warehouse.order("o1", "STOCKINGS", 1)

    assert outcome is not None and outcome.result is Result.FAIL
    assert "no stock record" not in outcome.reason


def test_a_non_positive_quantity_fails_and_reserves_nothing() -> None:
    warehouse = Warehouse(JUMPERS=5)

    for order_id, quantity in (("zero", 0), ("negative", -3)):
        outcome = warehouse.order(order_id, "JUMPERS", quantity)
        assert outcome is not None and outcome.result is Result.FAIL
        assert "quantity" in outcome.reason

    assert warehouse.reserved("JUMPERS") == 0
    assert warehouse.stock["JUMPERS"].available == 5


def test_a_repeated_order_is_neither_answered_nor_reserved_twice() -> None:
    warehouse = Warehouse(JUMPERS=5)
    warehouse.order("o1", "JUMPERS", 2)

    assert warehouse.order("o1", "JUMPERS", 2) is None
    assert warehouse.reserved("JUMPERS") == 2


def test_releasing_a_failed_order_gives_its_stock_back_exactly_once() -> None:
    warehouse = Warehouse(JUMPERS=5)
    warehouse.order("o1", "JUMPERS", 2)

    warehouse.fail("o1", "JUMPERS", 2)
    assert warehouse.reserved("JUMPERS") == 0
    warehouse.fail("o1", "JUMPERS", 2)
    assert warehouse.reserved("JUMPERS") == 0
    assert warehouse.holds[("JUMPERS", "o1")].state is HoldState.RELEASED


def test_releasing_a_refused_order_gives_nothing_back() -> None:
    warehouse = Warehouse(JUMPERS=1)
    warehouse.order("held", "JUMPERS", 1)
    warehouse.order("refused", "JUMPERS", 1)

    warehouse.fail("refused", "JUMPERS", 1)

    assert warehouse.reserved("JUMPERS") == 1


def test_released_stock_can_be_reserved_by_another_order() -> None:
    warehouse = Warehouse(JUMPERS=1)
    warehouse.order("o1", "JUMPERS", 1)
    warehouse.fail("o1", "JUMPERS", 1)

    assert result(warehouse.order("o2", "JUMPERS", 1)) is Result.PASS


def test_a_release_before_the_reservation_makes_the_reservation_silent() -> None:
    warehouse = Warehouse(JUMPERS=5)
    warehouse.fail("o1", "JUMPERS", 2)

    assert warehouse.order("o1", "JUMPERS", 2) is None
    assert warehouse.reserved("JUMPERS") == 0


def test_a_new_stock_level_keeps_the_reservations() -> None:
    warehouse = Warehouse(JUMPERS=2)
    warehouse.order("o1", "JUMPERS", 2)

    restocked = set_stock(warehouse.stock["JUMPERS"], 10, "restock")

    assert (restocked.quantity, restocked.reserved, restocked.available) == (10, 2, 8)
    assert restocked.update_id == "restock"


def test_shipping_takes_the_held_units_out_of_stock_exactly_once() -> None:
    warehouse = Warehouse(JUMPERS=10)
    warehouse.order("o-1", "JUMPERS", 3)

    warehouse.ship("o-1", "JUMPERS")
    warehouse.ship("o-1", "JUMPERS")

    assert (warehouse.stock["JUMPERS"].quantity, warehouse.reserved("JUMPERS")) == (7, 0)
    assert warehouse.holds[("JUMPERS", "o-1")] == Hold(3, HoldState.SHIPPED)


def test_a_shipped_order_gives_nothing_back_on_a_later_release() -> None:
    warehouse = Warehouse(JUMPERS=10)
    warehouse.order("o-1", "JUMPERS", 3)
    warehouse.ship("o-1", "JUMPERS")

    warehouse.fail("o-1", "JUMPERS", 3)

    assert (warehouse.stock["JUMPERS"].quantity, warehouse.reserved("JUMPERS")) == (7, 0)


def test_a_released_or_refused_order_ships_nothing() -> None:
    warehouse = Warehouse(JUMPERS=2)
    warehouse.order("o-1", "JUMPERS", 1)
    warehouse.fail("o-1", "JUMPERS", 1)
    warehouse.order("o-2", "JUMPERS", 5)

    warehouse.ship("o-1", "JUMPERS")
    warehouse.ship("o-2", "JUMPERS")
    warehouse.ship("o-3", "JUMPERS")

    assert (warehouse.stock["JUMPERS"].quantity, warehouse.reserved("JUMPERS")) == (2, 0)
