"""The messages and enums of the OMS API, as the SDK returns them.

They are the protobuf classes generated from protos/ (with .pyi stubs, so
every field is typed). Import them from here or from `oms_client`.
"""

from __future__ import annotations

from oms_client._gen.customers.v1.customers_pb2 import Customer, CustomerLevel
from oms_client._gen.deadletter.v1.dead_letter_pb2 import DeadLetter
from oms_client._gen.deadletter.v1.dead_letter_service_pb2 import DeadLetterEntry
from oms_client._gen.inventory.v1.inventory_pb2 import ProductStock
from oms_client._gen.orders.v1.command_service_pb2 import (
    CancelOrderResponse,
    LogPosition,
    PlaceOrderResponse,
    ShipOrderResponse,
)
from oms_client._gen.orders.v1.order_pb2 import CheckOutcome, CheckResult, CheckType, Order, OrderState
from oms_client._gen.orders.v1.query_service_pb2 import OrderEventKind, OrderHistoryEvent, WatchOrdersResponse
from oms_client._gen.payments.v1.payments_pb2 import ListPaymentsResponse, Payment, RecordPaymentResponse

TERMINAL_STATES: frozenset[int] = frozenset(
    {
        OrderState.ORDER_STATE_VALIDATED,
        OrderState.ORDER_STATE_FAILED,
        OrderState.ORDER_STATE_SHIPPED,
        OrderState.ORDER_STATE_CANCELLED,
    }
)


# Where an order's life ends: nothing changes it any more.
CLOSED_STATES: frozenset[int] = frozenset(
    {OrderState.ORDER_STATE_FAILED, OrderState.ORDER_STATE_SHIPPED, OrderState.ORDER_STATE_CANCELLED}
)


def is_closed(order: Order) -> bool:
    """True once the order is FAILED, SHIPPED or CANCELLED."""
    return order.state in CLOSED_STATES


def event_kind_name(kind: int) -> str:
    """`ORDER_EVENT_KIND_CANCELLED` -> `CANCELLED`."""
    return OrderEventKind.Name(kind).removeprefix("ORDER_EVENT_KIND_")


def is_terminal(order: Order) -> bool:
    """True once the order has reached a state it never leaves."""
    return order.state in TERMINAL_STATES


def state_name(state: int) -> str:
    """`ORDER_STATE_VALIDATED` -> `VALIDATED`."""
    return OrderState.Name(state).removeprefix("ORDER_STATE_")


def check_type_name(check_type: int) -> str:
    return CheckType.Name(check_type).removeprefix("CHECK_TYPE_")


def check_result_name(result: int) -> str:
    return CheckResult.Name(result).removeprefix("CHECK_RESULT_")


__all__ = [
    "CLOSED_STATES",
    "TERMINAL_STATES",
    "CancelOrderResponse",
    "CheckOutcome",
    "CheckResult",
    "CheckType",
    "Customer",
    "CustomerLevel",
    "DeadLetter",
    "DeadLetterEntry",
    "ListPaymentsResponse",
    "LogPosition",
    "Order",
    "OrderEventKind",
    "OrderHistoryEvent",
    "OrderState",
    "Payment",
    "PlaceOrderResponse",
    "ProductStock",
    "RecordPaymentResponse",
    "ShipOrderResponse",
    "WatchOrdersResponse",
    "check_result_name",
    "check_type_name",
    "event_kind_name",
    "is_closed",
    "is_terminal",
    "state_name",
]
