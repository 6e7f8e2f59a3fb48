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


# Where WatchOrder ends by default: the order has its verdict (or later).
TERMINAL_STATES = frozenset({OrderState.VALIDATED, OrderState.FAILED, OrderState.SHIPPED, OrderState.CANCELLED})
# Where an order's life ends: nothing can change it any more.
CLOSED_STATES = frozenset({OrderState.FAILED, OrderState.SHIPPED, OrderState.CANCELLED})
# Whence an order may be cancelled.
CANCELLABLE_STATES = frozenset({OrderState.CREATED, OrderState.VALIDATED})


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


def cents(amount: float) -> int:
    """Money compared in whole cents, so 0.1 + 0.2 pays 0.30."""
    return round(amount * 100)


class OrderNotCancellable(Exception):
    """A cancel was asked of an order that is FAILED, SHIPPED or CANCELLED."""

    def __init__(self, order_id: str, state: OrderState) -> None:
        super().__init__(f"order {order_id} is {state} and cannot be cancelled")
        self.order_id = order_id
        self.state = state


@dataclass(frozen=True, slots=True)
class Missing:
    """One thing an order lacks to be shipped: `what` is "STATE" or
    "PAYMENT", `description` says it for people."""

    what: str
    description: str


class OrderNotShippable(Exception):
    """A shipment was asked of an order that is not VALIDATED or not paid in full."""

    def __init__(self, order_id: str, missing: tuple[Missing, ...]) -> None:
        super().__init__(f"order {order_id} cannot be shipped: " + "; ".join(m.description for m in missing))
        self.order_id = order_id
        self.missing = missing


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

    class Cancelled(Aggregate.Event):
        reason: str

    class Shipped(Aggregate.Event):
        paid: float

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

    @event(Cancelled)
    def cancel(self, reason: str) -> None:
        if self.state not in CANCELLABLE_STATES:
            raise OrderNotCancellable(self.order_id, self.state)
        self.state = OrderState.CANCELLED

    def missing_for_shipment(self, paid: float) -> tuple[Missing, ...]:
        """What the order lacks to be shipped, given what was paid for it."""
        missing = []
        if self.state is not OrderState.VALIDATED:
            missing.append(Missing("STATE", f"the order is {self.state}, not VALIDATED"))
        if cents(paid) < cents(self.amount):
            missing.append(Missing("PAYMENT", f"{paid:.2f} of {self.amount:.2f} paid"))
        return tuple(missing)

    @event(Shipped)
    def ship(self, paid: float) -> None:
        missing = self.missing_for_shipment(paid)
        if missing:
            raise OrderNotShippable(self.order_id, missing)
        self.state = OrderState.SHIPPED
