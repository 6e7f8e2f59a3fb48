"""The verdict on an order from its checks' outcomes (pure)."""

from __future__ import annotations

from aggregator.verdict import decide, time_out
from orders.domain import Check, CheckOutcome, OrderState, Result


def passed(check: Check) -> CheckOutcome:
    return CheckOutcome(check, Result.PASS)


def failed(check: Check, reason: str = "no") -> CheckOutcome:
    return CheckOutcome(check, Result.FAIL, reason)


def test_three_passes_validate_the_order() -> None:
    verdict = decide([passed(Check.INVENTORY), passed(Check.FRAUD), passed(Check.ORDER_DETAILS)])

    assert verdict is not None and verdict.state is OrderState.VALIDATED
    assert {o.check for o in verdict.checks} == set(Check)


def test_pass_fail_pass_fails_the_order() -> None:
    verdict = decide([passed(Check.ORDER_DETAILS), failed(Check.FRAUD), passed(Check.INVENTORY)])

    assert verdict is not None and verdict.state is OrderState.FAILED
    assert failed(Check.FRAUD) in verdict.checks


def test_one_failure_is_enough_to_fail_at_once() -> None:
    verdict = decide([failed(Check.INVENTORY)])

    assert verdict is not None and verdict.state is OrderState.FAILED


def test_an_error_fails_the_order_too() -> None:
    verdict = decide([passed(Check.FRAUD), CheckOutcome(Check.INVENTORY, Result.ERROR, "boom")])

    assert verdict is not None and verdict.state is OrderState.FAILED


def test_no_verdict_while_a_check_is_missing() -> None:
    assert decide([]) is None
    assert decide([passed(Check.ORDER_DETAILS), passed(Check.FRAUD)]) is None


def test_repeated_passes_of_one_check_never_validate() -> None:
    assert decide([passed(Check.FRAUD)] * 3) is None
    assert decide([passed(Check.FRAUD), passed(Check.FRAUD), passed(Check.INVENTORY)]) is None


def test_the_first_outcome_of_a_check_wins() -> None:
    pass_then_fail = decide(
        [passed(Check.FRAUD), failed(Check.FRAUD), passed(Check.ORDER_DETAILS), passed(Check.INVENTORY)]
    )
    fail_then_pass = decide(
        [failed(Check.FRAUD), passed(Check.FRAUD), passed(Check.ORDER_DETAILS), passed(Check.INVENTORY)]
    )

    assert pass_then_fail is not None and pass_then_fail.state is OrderState.VALIDATED
    assert fail_then_pass is not None and fail_then_pass.state is OrderState.FAILED


def test_a_verdict_lists_one_outcome_per_check_in_check_order() -> None:
    verdict = decide(
        [passed(Check.INVENTORY), passed(Check.INVENTORY), passed(Check.FRAUD), passed(Check.ORDER_DETAILS)]
    )

    assert verdict is not None
    assert [o.check for o in verdict.checks] == list(Check)


def test_a_timeout_fails_naming_each_missing_check() -> None:
    verdict = time_out([passed(Check.ORDER_DETAILS)], timeout_ms=30_000)

    assert verdict.state is OrderState.FAILED
    by_check = {o.check: o for o in verdict.checks}
    assert by_check[Check.ORDER_DETAILS] == passed(Check.ORDER_DETAILS)
    for missing in (Check.FRAUD, Check.INVENTORY):
        assert by_check[missing].result is Result.TIMEOUT
        assert "30000 ms" in by_check[missing].reason


def test_a_timeout_without_any_answer_times_out_every_check() -> None:
    verdict = time_out([], timeout_ms=1)

    assert verdict.state is OrderState.FAILED
    assert [(o.check, o.result) for o in verdict.checks] == [(c, Result.TIMEOUT) for c in Check]
