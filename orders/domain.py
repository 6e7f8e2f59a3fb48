"""The Order aggregate. Pure: no I/O, no protobuf, no Kafka."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from eventsourcing.domain import Aggregate, event


class OrderState(StrEnum):
    CREATED = "CREATED"
    VALIDATED = "VALIDATED"
    FAILED = "FAILED"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"


TERMINAL_STATES = frozenset({OrderState.VALIDATED, OrderState.FAILED, OrderState.SHIPPED, OrderState.CANCELLED})


class Check(StrEnum):
    ORDER_DETAILS = "ORDER_DETAILS"
    FRAUD = "FRAUD"
    INVENTORY = "INVENTORY"


REQUIRED_CHECKS = frozenset(Check)


class Result(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    TIMEOUT = "TIMEOUT"


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    check: Check
    result: Result
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.result is Result.PASS


@dataclass(frozen=True, slots=True)
class OrderDetails:
    """What a client asks for; also the content compared for idempotency."""

    order_id: str
    customer_id: int
    product: str
    quantity: int
    price: float


class OrderAlreadyDecided(Exception):
    """A verdict was asked of an order that already has one."""


class Order(Aggregate):
    """An order, identified by its client-chosen id."""

    @staticmethod
    def create_id(order_id: str, **_: object) -> uuid.UUID:
        # Derived, so that the same order id always names the same aggregate.
        return uuid.uuid5(uuid.NAMESPACE_URL, f"oms:order:{order_id}")

    # The events, declared so that their fields are typed: each decorated
    # method below is command, guard and state change at once.
    class Placed(Aggregate.Created):
        order_id: str
        customer_id: int
        product: str
        quantity: int
        price: float

    class Validated(Aggregate.Event):
        checks: tuple[CheckOutcome, ...]

    class Failed(Aggregate.Event):
        checks: tuple[CheckOutcome, ...]

    @event(Placed)
    def __init__(self, order_id: str, customer_id: int, product: str, quantity: int, price: float) -> None:
        self.order_id = order_id
        self.customer_id = customer_id
        self.product = product
        self.quantity = quantity
        self.price = price
        self.state = OrderState.CREATED
        self.checks: tuple[CheckOutcome, ...] = ()

    @classmethod
    def place(cls, details: OrderDetails) -> Order:
        return cls(
            order_id=details.order_id,
            customer_id=details.customer_id,
            product=details.product,
            quantity=details.quantity,
            price=details.price,
        )

    @property
    def details(self) -> OrderDetails:
        return OrderDetails(self.order_id, self.customer_id, self.product, self.quantity, self.price)

    @property
    def amount(self) -> float:
        return self.quantity * self.price

    def _require_created(self) -> None:
        if self.state is not OrderState.CREATED:
            raise OrderAlreadyDecided(f"order {self.order_id} is already {self.state}")

    @event(Validated)
    def validate(self, checks: tuple[CheckOutcome, ...]) -> None:
        self._require_created()
        self.state = OrderState.VALIDATED
        self.checks = tuple(checks)

    @event(Failed)
    def fail(self, checks: tuple[CheckOutcome, ...]) -> None:
        self._require_created()
        self.state = OrderState.FAILED
        self.checks = tuple(checks)
