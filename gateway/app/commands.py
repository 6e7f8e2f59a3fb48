"""The commands and queries the handlers take. Each checks its own shape
when made (InvalidRequest names every bad field), so a command that exists
is well-formed, and a malformed call is refused before it is routed."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.app import checks
from oms.customers.v1 import customers_pb2
from oms.orders.v1 import order_pb2
from orders.domain import OrderDetails

# (partition, offset) in the orders topic: what a read waits for first.
OrderPosition = tuple[int, int]


@dataclass(frozen=True)
class PlaceOrder:
    order_id: str
    customer_id: int
    product: str
    quantity: int
    price: float

    def __post_init__(self) -> None:
        checks.require(
            checks.place_order_violations(self.order_id, self.customer_id, self.product, self.price, self.quantity)
        )

    @property
    def details(self) -> OrderDetails:
        return OrderDetails(self.order_id, self.customer_id, self.product, self.quantity, self.price)


@dataclass(frozen=True)
class SetStock:
    product: str
    quantity: int

    def __post_init__(self) -> None:
        checks.require(checks.stock_violations(self.product, self.quantity))


@dataclass(frozen=True)
class UpsertCustomer:
    customer: customers_pb2.Customer

    def __post_init__(self) -> None:
        checks.require(checks.customer_violations(self.customer))


@dataclass(frozen=True)
class RecordPayment:
    payment_id: str
    order_id: str
    amount: float
    currency: str

    def __post_init__(self) -> None:
        checks.require(checks.payment_violations(self.payment_id, self.order_id, self.amount, self.currency))


@dataclass(frozen=True)
class GetOrder:
    order_id: str
    # Answer only once the view has reached this position (read your writes).
    min_position: OrderPosition | None = None

    def __post_init__(self) -> None:
        checks.require(checks.order_id_violations(self.order_id) + checks.position_violations(self.min_position))


@dataclass(frozen=True)
class WatchOrder(GetOrder):
    # Go on past VALIDATED, to FAILED, SHIPPED or CANCELLED.
    until_closed: bool = False


@dataclass(frozen=True)
class ListOrderEvents(GetOrder):
    pass


@dataclass(frozen=True)
class CancelOrder:
    order_id: str
    reason: str = ""

    def __post_init__(self) -> None:
        checks.require(checks.order_id_violations(self.order_id) + checks.reason_violations(self.reason))


@dataclass(frozen=True)
class ShipOrder:
    order_id: str

    def __post_init__(self) -> None:
        checks.require(checks.order_id_violations(self.order_id))


@dataclass(frozen=True)
class ListPayments:
    order_id: str

    def __post_init__(self) -> None:
        checks.require(checks.order_id_violations(self.order_id))


@dataclass(frozen=True)
class GetStock:
    product: str

    def __post_init__(self) -> None:
        checks.require(checks.product_violations(self.product))


@dataclass(frozen=True)
class GetCustomer:
    customer_id: int

    def __post_init__(self) -> None:
        checks.require(checks.customer_id_violations(self.customer_id))


_STATES = frozenset(order_pb2.OrderState.values()) - {order_pb2.ORDER_STATE_UNSPECIFIED}


@dataclass(frozen=True)
class ListOrders:
    """Filters (0 or "" leave one out), a page size (0: the default) and where to go on."""

    customer_id: int = 0
    state: int = 0
    product: str = ""
    page_size: int = 0
    page_token: str = ""

    def __post_init__(self) -> None:
        violations = []
        if self.customer_id < 0:
            violations.append(checks.FieldViolation("customer_id", "must be 0 (any) or greater"))
        if self.state and self.state not in _STATES:
            violations.append(checks.FieldViolation("state", f"unknown state {self.state}"))
        if self.product:
            violations += checks.product_violations(self.product)
        if self.page_size < 0:
            violations.append(checks.FieldViolation("page_size", "must be 0 (the default) or greater"))
        checks.require(violations)

    @property
    def scope(self) -> str:
        """What a page token of this query is bound to: its filters."""
        return f"orders/{self.customer_id}/{self.state}/{self.product}"


# Processor names are short ("fraud-check"); a longer filter is a mistake.
MAX_PROCESSOR_NAME = 100


@dataclass(frozen=True)
class ListDeadLetters:
    """A processor ("": every one), a page size (0: the default) and where to go on."""

    processor: str = ""
    page_size: int = 0
    page_token: str = ""

    def __post_init__(self) -> None:
        violations = []
        if len(self.processor) > MAX_PROCESSOR_NAME:
            violations.append(checks.FieldViolation("processor", f"must be at most {MAX_PROCESSOR_NAME} characters"))
        if self.page_size < 0:
            violations.append(checks.FieldViolation("page_size", "must be 0 (the default) or greater"))
        checks.require(violations)

    @property
    def scope(self) -> str:
        """What a page token of this query is bound to: its processor."""
        return f"dead-letters/{self.processor}"


@dataclass(frozen=True)
class WatchOrders:
    customer_id: int
    resume_token: str = ""

    def __post_init__(self) -> None:
        checks.require(checks.customer_id_violations(self.customer_id))
