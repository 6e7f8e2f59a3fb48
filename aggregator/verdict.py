"""The verdict on an order from its checks' outcomes. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from orders.domain import REQUIRED_CHECKS, Check, CheckOutcome, OrderState, Result


@dataclass(frozen=True, slots=True)
class Verdict:
    state: OrderState
    checks: tuple[CheckOutcome, ...]


def distinct_outcomes(outcomes: Iterable[CheckOutcome]) -> dict[Check, CheckOutcome]:
    """One outcome per check type: the first one heard. A repeated message
    of a check can never count twice."""
    by_check: dict[Check, CheckOutcome] = {}
    for outcome in outcomes:
        by_check.setdefault(outcome.check, outcome)
    return by_check


def _ordered(by_check: dict[Check, CheckOutcome]) -> tuple[CheckOutcome, ...]:
    return tuple(by_check[c] for c in Check if c in by_check)


def decide(outcomes: Iterable[CheckOutcome]) -> Verdict | None:
    """FAILED as soon as any check fails; VALIDATED once every check passed."""
    by_check = distinct_outcomes(outcomes)
    if any(not o.passed for o in by_check.values()):
        return Verdict(OrderState.FAILED, _ordered(by_check))
    if REQUIRED_CHECKS <= by_check.keys():
        return Verdict(OrderState.VALIDATED, _ordered(by_check))
    return None


def time_out(outcomes: Iterable[CheckOutcome], timeout_ms: int) -> Verdict:
    """FAILED, naming every check that did not answer in time."""
    by_check = distinct_outcomes(outcomes)
    for check in REQUIRED_CHECKS - by_check.keys():
        by_check[check] = CheckOutcome(check, Result.TIMEOUT, f"no answer within {timeout_ms} ms")
    return Verdict(OrderState.FAILED, _ordered(by_check))
