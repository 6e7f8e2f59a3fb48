"""Fraud check: a customer's spending per session of activity.

Orders of one customer less than an hour apart form one session; once a
session's total reaches the limit, that order and every later one in the
session fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from orders.domain import Check, CheckOutcome, Result

FRAUD_LIMIT = 2000.0
SESSION_GAP_MS = 60 * 60 * 1000
# How long a closed session is kept for orders that arrive late.
SESSION_GRACE_MS = SESSION_GAP_MS


@dataclass(frozen=True, slots=True)
class Session:
    start_ms: int
    end_ms: int
    total: float

    def reaches(self, at_ms: int) -> bool:
        return self.start_ms - SESSION_GAP_MS <= at_ms <= self.end_ms + SESSION_GAP_MS

    def holds(self, at_ms: int) -> bool:
        return self.start_ms <= at_ms <= self.end_ms


def check_fraud(
    sessions: tuple[Session, ...], customer_id: int, amount: float, at_ms: int
) -> tuple[CheckOutcome, tuple[Session, ...]]:
    """The outcome for an order not counted yet, and the customer's sessions
    after it. (Which orders were counted is the caller's to remember: a
    list of them here would make each order cost more than the last.)"""
    # A negative or non-numeric amount (an order its details check fails)
    # must not lower the session's total and open the way for a big order.
    counted = amount if math.isfinite(amount) and amount > 0 else 0.0
    joined = [s for s in sessions if s.reaches(at_ms)]
    merged = Session(
        start_ms=min([at_ms, *(s.start_ms for s in joined)]),
        end_ms=max([at_ms, *(s.end_ms for s in joined)]),
        total=sum(s.total for s in joined) + counted,
    )
    latest = max([merged.end_ms, *(s.end_ms for s in sessions)])
    kept = tuple(s for s in sessions if s not in joined and s.end_ms + SESSION_GAP_MS + SESSION_GRACE_MS >= latest)
    after = tuple(sorted((*kept, merged), key=lambda s: s.start_ms))
    if merged.total >= FRAUD_LIMIT:
        reason = f"customer {customer_id} spent {merged.total:.2f} in one session; the limit is {FRAUD_LIMIT:.0f}"
        return CheckOutcome(Check.FRAUD, Result.FAIL, reason), after
    return CheckOutcome(Check.FRAUD, Result.PASS), after


def forgets(before: tuple[Session, ...], after: tuple[Session, ...]) -> bool:
    """Whether a session of `before` is gone from `after` (merged into
    another is not gone): its orders are then forgotten too."""
    for old in before:
        for new in after:
            if new.start_ms <= old.start_ms <= new.end_ms:
                break
        else:
            return True
    return False


def held(sessions: tuple[Session, ...], at_ms: int) -> bool:
    """Whether an order placed at at_ms belongs to one of the sessions (a
    forgotten session's orders belong to none)."""
    return any(s.holds(at_ms) for s in sessions)
