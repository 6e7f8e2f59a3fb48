"""What a handler can fail with. The api layer maps each to a gRPC status
(gateway/api/errors.py); nothing here knows gRPC."""

from __future__ import annotations

from dataclasses import dataclass

TopicPartition = tuple[str, int]


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class AppError(Exception):
    """An error to answer a call with."""


class InvalidRequest(AppError):
    """The request is not well-formed: each bad field is named."""

    def __init__(self, violations: list[FieldViolation]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))
        self.violations = list(violations)


class NotFound(AppError):
    def __init__(self, kind: str, name: str, description: str) -> None:
        super().__init__(description)
        self.kind = kind
        self.name = name
        self.description = description


class AlreadyExists(AppError):
    """An id was already used with other content. `reason` is machine-readable
    (ORDER_ID_REUSED, PAYMENT_ID_REUSED); `metadata` names the id."""

    def __init__(self, message: str, reason: str, **metadata: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.metadata = metadata


@dataclass(frozen=True)
class Precondition:
    """One unmet precondition: `type` is machine-readable (STATE, PAYMENT),
    `subject` what it is about (order/<id>)."""

    type: str
    subject: str
    description: str


class FailedPrecondition(AppError):
    """The request is well-formed but the thing it is about is not in a state
    that allows it: each unmet precondition is named."""

    def __init__(self, message: str, violations: list[Precondition]) -> None:
        super().__init__(message)
        self.message = message
        self.violations = list(violations)


class Unavailable(AppError):
    """Not now: the client may retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


class Shed(AppError):
    """Not taken on now, so that what is taken on is served in good time (load
    shedding): the client may retry after `retry_after_s`. `reason` is
    machine-readable; `metadata` says which limit was passed."""

    reason = "SHED"

    def __init__(self, message: str, retry_after_s: float, **metadata: str) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.metadata = metadata


class Overloaded(Shed):
    """This instance already serves its limit of calls."""

    reason = "OVERLOADED"

    def __init__(self, limit: int, retry_after_s: float = 0.5) -> None:
        super().__init__(
            f"this gateway instance already serves {limit} calls; try again shortly",
            retry_after_s,
            max_calls=str(limit),
        )
        self.limit = limit


class Saturated(Shed):
    """This instance's event loop runs late: every call it takes on now would
    wait behind those it has, so new ones are refused until they drain."""

    reason = "SATURATED"

    def __init__(self, lag_ms: float, limit_ms: int, retry_after_s: float = 0.5) -> None:
        super().__init__(
            f"this gateway instance is saturated (running {lag_ms:.0f} ms late); try again shortly",
            retry_after_s,
            loop_lag_ms=f"{lag_ms:.0f}",
            max_loop_lag_ms=str(limit_ms),
        )


class WorkflowBehind(Shed):
    """The order workflow has more placed orders to decide than it can soon:
    no new order is taken on until it catches up."""

    reason = "WORKFLOW_BEHIND"

    def __init__(self, backlog: int, limit: int, retry_after_s: float = 1.0) -> None:
        super().__init__(
            f"the order workflow is {backlog} records behind (at most {limit}); try placing the order again shortly",
            retry_after_s,
            backlog=str(backlog),
            max_backlog=str(limit),
        )


class PartitionMoved(Unavailable):
    """The partition a call waits on, or is about to write to, now belongs to
    another gateway instance: its view here stops. The api layer goes on at
    the new owner; a call without one answers UNAVAILABLE, for the client to
    retry."""

    def __init__(self, tp: TopicPartition) -> None:
        super().__init__(f"{tp[0]}[{tp[1]}] moved to another gateway instance", retry_after_s=0.1)
        self.tp = tp


class Unauthenticated(AppError):
    """No valid bearer token: none, a bad signature, expired, malformed, or
    claims that do not say who the caller is."""


class PermissionDenied(AppError):
    """The caller is known, and may not do this."""


class WatchLimit(Shed):
    """This instance already serves its limit of WatchOrder streams."""

    reason = "TOO_MANY_WATCHES"

    def __init__(self, limit: int, retry_after_s: float = 5.0) -> None:
        super().__init__(
            f"this gateway instance already serves {limit} WatchOrder streams; try again later",
            retry_after_s,
            max_watches=str(limit),
        )
        self.limit = limit
