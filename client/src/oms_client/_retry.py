"""Retry policy and deadlines shared by the sync and asyncio clients."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

import grpc

from oms_client.errors import DeadlineExceeded, OmsError, ResourceExhausted, Unavailable


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of UNAVAILABLE, and of RESOURCE_EXHAUSTED that says when to
    come back (a gateway shedding load answers so), with exponential backoff
    and jitter.

    Every call the SDK retries is idempotent (PlaceOrder by order_id,
    RecordPayment by payment_id, SetStock and UpsertCustomer replace, reads
    read), so a retry cannot do anything twice. Retries stop at
    `max_attempts` or when the call's overall deadline would pass first. A
    RetryInfo delay from the server is honoured when it is longer than the
    backoff.
    """

    max_attempts: int = 8
    initial_backoff: float = 0.1
    max_backoff: float = 3.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def backoffs(self) -> Iterator[float]:
        delay = self.initial_backoff
        while True:
            yield max(0.0, delay * (1 + random.uniform(-self.jitter, self.jitter)))
            delay = min(self.max_backoff, delay * self.multiplier)


NO_RETRY = RetryPolicy(max_attempts=1)


class Deadline:
    """An overall deadline across attempts; None means none."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self._at = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        """Seconds left; raises DeadlineExceeded when none are."""
        if self._at is None:
            return None
        left = self._at - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(grpc.StatusCode.DEADLINE_EXCEEDED, f"deadline of {self.timeout:g}s exceeded")
        return left

    def allows(self, delay: float) -> bool:
        return self._at is None or time.monotonic() + delay < self._at


class Attempts:
    """Decides, after a failed attempt, whether to retry and after how long."""

    def __init__(self, policy: RetryPolicy, deadline: Deadline) -> None:
        self._policy = policy
        self._deadline = deadline
        self._backoffs = policy.backoffs()
        self.count = 0

    def retry_after(self, error: OmsError) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        self.count += 1
        if not _retryable(error) or self.count >= self._policy.max_attempts:
            return None
        delay = max(next(self._backoffs), error.retry_delay or 0.0)
        return delay if self._deadline.allows(delay) else None

    def progressed(self) -> None:
        """A stream delivered something: start counting afresh."""
        self.count = 0
        self._backoffs = self._policy.backoffs()


def _retryable(error: OmsError) -> bool:
    # A quota or overload without a RetryInfo gives no hint that waiting helps.
    return isinstance(error, Unavailable) or (isinstance(error, ResourceExhausted) and error.retry_delay is not None)
