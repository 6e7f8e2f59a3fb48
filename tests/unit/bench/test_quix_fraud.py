"""The quixstreams fraud check of the bench's quix phase applies our rule:
bench/quix_fraud.py keeps its own copy of validators.fraud (its venv has no
oms), and the comparison is only fair while the two answer alike."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bench import quix_fraud
from orders import codec
from orders.domain import Check, CheckOutcome, Result
from validators import fraud

HOUR_MS = 60 * 60 * 1000

orders = st.lists(
    st.tuples(
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([5.0, 75.0, 1000.0, 1999.99])),
        st.integers(min_value=0, max_value=6 * HOUR_MS),
    ),
    max_size=12,
)


@given(orders)
def test_the_quix_copy_of_the_rule_answers_as_ours(placed: list[tuple[float, int]]) -> None:
    ours: tuple[fraud.Session, ...] = ()
    theirs: list[quix_fraud.Session] = []
    for amount, at_ms in placed:
        outcome, ours = fraud.check_fraud(ours, 7, amount, at_ms)
        reason, theirs = quix_fraud.check_fraud(theirs, 7, amount, at_ms)

        assert (outcome.reason or None) == reason
        assert [[s.start_ms, s.end_ms, s.total] for s in ours] == theirs


def test_its_validations_are_the_records_ours_writes() -> None:
    passed = quix_fraud.validation("o-1", None)
    failed = quix_fraud.validation("o-2", "too much")

    assert passed.order_id == "o-1"
    assert codec.outcome_from_pb(passed.outcome) == CheckOutcome(Check.FRAUD, Result.PASS)
    assert codec.outcome_from_pb(failed.outcome) == CheckOutcome(Check.FRAUD, Result.FAIL, "too much")
