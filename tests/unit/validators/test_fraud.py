"""The fraud check: a customer's spending per session of activity (the pure
rule), and its processor's memory of the orders it counted."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from oms.orders.v1 import events_pb2, order_pb2
from oms.validation.v1 import state_pb2
from orders.domain import Check, CheckOutcome, Result
from streams.testing import TestDriver
from topology.deadletters import DeadLetters
from topology.topics import Topics
from validators.fraud import FRAUD_LIMIT, SESSION_GAP_MS, Session, check_fraud, forgets
from validators.processors import FraudProcessor

MINUTE_MS = 60 * 1000
HOUR_MS = 60 * MINUTE_MS


class Customer:
    """One customer's sessions, threaded through successive checks."""

    def __init__(self, customer_id: int = 1) -> None:
        self.customer_id = customer_id
        self.sessions: tuple[Session, ...] = ()

    def order(self, amount: float, at_ms: int = 0) -> CheckOutcome:
        outcome, self.sessions = check_fraud(self.sessions, self.customer_id, amount, at_ms)
        return outcome

    def orders(self, amounts: Iterable[float], at_ms: int = 0) -> list[Result]:
        return [self.order(amount, at_ms).result for amount in amounts]


@pytest.mark.parametrize(
    ("customer_id", "orders", "expected"),
    [
        pytest.param(0, [(3, 5), (1, 75)], [Result.PASS, Result.PASS], id="customer-0-small-orders"),
        pytest.param(
            1, [(1, 75), (1, 75), (50, 75)], [Result.PASS, Result.PASS, Result.FAIL], id="customer-1-big-third"
        ),
        pytest.param(
            2,
            [(10, 100), (10, 100), (1, 5)],
            [Result.PASS, Result.FAIL, Result.FAIL],
            id="customer-2-exactly-the-limit",
        ),
    ],
)
def test_reference_scenarios(customer_id: int, orders: list[tuple[int, float]], expected: list[Result]) -> None:
    customer = Customer(customer_id)

    assert customer.orders(quantity * price for quantity, price in orders) == expected


def test_outcomes_are_fraud_checks_and_a_failure_names_the_total_and_limit() -> None:
    customer = Customer(2)
    passed = customer.order(1000.0)
    failed = customer.order(1000.0)

    assert passed == CheckOutcome(Check.FRAUD, Result.PASS)
    assert failed is not None and failed.check is Check.FRAUD
    assert "2000.00" in failed.reason
    assert f"{FRAUD_LIMIT:.0f}" in failed.reason


def test_reaching_the_limit_exactly_fails_and_just_below_passes() -> None:
    assert Customer().orders([FRAUD_LIMIT]) == [Result.FAIL]
    assert Customer().orders([FRAUD_LIMIT - 0.01]) == [Result.PASS]


def test_orders_less_than_the_gap_apart_share_a_session() -> None:
    customer = Customer()
    customer.order(1500.0, at_ms=0)

    later = customer.order(600.0, at_ms=SESSION_GAP_MS - 1)

    assert later is not None and later.result is Result.FAIL
    assert len(customer.sessions) == 1


def test_an_order_more_than_the_gap_after_the_last_starts_a_new_session() -> None:
    customer = Customer()
    customer.order(1500.0, at_ms=0)

    later = customer.order(600.0, at_ms=SESSION_GAP_MS + 1)

    assert later is not None and later.result is Result.PASS
    assert [s.total for s in customer.sessions] == [1500.0, 600.0]


def test_a_session_stays_open_while_orders_keep_coming_within_the_gap() -> None:
    customer = Customer()
    results = customer.orders([500.0], at_ms=0)
    results += customer.orders([500.0], at_ms=50 * MINUTE_MS)
    results += customer.orders([500.0], at_ms=100 * MINUTE_MS)
    results += customer.orders([500.0], at_ms=150 * MINUTE_MS)  # 2.5 hours after the first

    assert results == [Result.PASS, Result.PASS, Result.PASS, Result.FAIL]


def test_a_late_order_between_two_sessions_merges_them() -> None:
    customer = Customer()
    customer.order(900.0, at_ms=0)
    customer.order(900.0, at_ms=2 * HOUR_MS)
    assert len(customer.sessions) == 2

    bridging = customer.order(300.0, at_ms=HOUR_MS)  # arrives last, placed in between

    assert bridging is not None and bridging.result is Result.FAIL  # 900 + 300 + 900 = 2100
    (merged,) = customer.sessions
    assert (merged.start_ms, merged.end_ms, merged.total) == (0, 2 * HOUR_MS, 2100.0)


def test_sessions_long_past_are_forgotten() -> None:
    customer = Customer()
    customer.order(1500.0, at_ms=0)
    customer.order(100.0, at_ms=2 * HOUR_MS)  # the first session is still kept for late orders
    assert len(customer.sessions) == 2

    customer.order(100.0, at_ms=10 * HOUR_MS)

    assert [s.start_ms for s in customer.sessions] == [10 * HOUR_MS]


def test_a_session_merged_into_another_is_not_forgotten_one_dropped_is() -> None:
    first, second = Session(0, HOUR_MS, 100.0), Session(3 * HOUR_MS, 4 * HOUR_MS, 100.0)
    merged = Session(0, 4 * HOUR_MS, 300.0)

    assert not forgets((first, second), (merged,))
    assert not forgets((first,), (first, second))
    assert forgets((first, second), (second,))
    assert not forgets((), (first,))


@pytest.mark.parametrize("bad_amount", [-5000.0, float("nan")], ids=["negative", "nan"])
def test_an_order_with_a_bad_amount_cannot_lower_the_session_total(bad_amount: float) -> None:
    customer = Customer()
    customer.order(bad_amount, at_ms=0)  # fails its details check, but is still counted here

    big = customer.order(3000.0, at_ms=MINUTE_MS)  # over the limit on its own

    assert big is not None and big.result is Result.FAIL


# The processor: which orders it counted


class FraudStage:
    """The fraud processor alone, fed re-keyed orders of one customer."""

    def __init__(self) -> None:
        self.topics = Topics()
        self.processor = FraudProcessor(self.topics)
        self.driver = TestDriver([self.processor], DeadLetters(self.topics.dead_letters), partitions=3)

    def order(self, order_id: str, amount: float, at_ms: int, customer_id: int = 7) -> None:
        candidate = state_pb2.FraudCandidate(order_id=order_id, customer_id=customer_id, amount=amount)
        candidate.placed_at.FromMilliseconds(at_ms)
        self.driver.pipe(self.topics.fraud_check_orders, str(customer_id).encode(), candidate.SerializeToString())
        self.driver.run()

    def answers(self) -> list[tuple[str, int]]:
        """(order id, result) of every answer, in no particular order."""
        validations = (
            events_pb2.OrderValidation.FromString(r.value or b"")
            for r in self.driver.records(self.topics.order_validations)
        )
        return [(v.order_id, v.outcome.result) for v in validations]

    def counted(self) -> list[bytes]:
        backend = self.driver.state(self.processor)
        return [key for p in range(3) for key, _ in backend.scan(p, b"counted/")]


def test_a_repeated_order_is_neither_answered_nor_counted_twice() -> None:
    stage = FraudStage()
    stage.order("same", 1500.0, at_ms=0)
    stage.order("same", 1500.0, at_ms=0)
    stage.order("next", 400.0, at_ms=MINUTE_MS)  # 1,900: under the limit only if "same" counted once

    assert sorted(stage.answers()) == [("next", order_pb2.CHECK_RESULT_PASS), ("same", order_pb2.CHECK_RESULT_PASS)]


def test_a_repeated_order_is_recognised_in_an_older_session_too() -> None:
    stage = FraudStage()
    stage.order("first", 1500.0, at_ms=0)
    stage.order("later", 100.0, at_ms=2 * HOUR_MS)
    stage.order("first", 1500.0, at_ms=0)

    assert sorted(order_id for order_id, _ in stage.answers()) == ["first", "later"]


def test_the_orders_of_a_forgotten_session_are_forgotten_with_it() -> None:
    stage = FraudStage()
    for n in range(5):
        stage.order(f"old-{n}", 10.0, at_ms=n * MINUTE_MS)
    assert len(stage.counted()) == 5

    stage.order("new", 10.0, at_ms=10 * HOUR_MS)  # long after: the old session goes

    assert stage.counted() == [b"counted/7/new"]
