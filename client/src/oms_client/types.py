"""The messages and enums of the OMS API, as the SDK returns them.

They are the protobuf classes generated from protos/ (with .pyi stubs, so
every field is typed). Import them from here or from `oms_client`.
"""

from __future__ import annotations

from oms_client._gen.customers.v1.customers_pb2 import Customer, CustomerLevel
from oms_client._gen.inventory.v1.inventory_pb2 import ProductStock
from oms_client._gen.orders.v1.command_service_pb2 import LogPosition, PlaceOrderResponse
from oms_client._gen.orders.v1.order_pb2 import CheckOutcome, CheckResult, CheckType, Order, OrderState
from oms_client._gen.payments.v1.payments_pb2 import Payment, RecordPaymentResponse

TERMINAL_STATES: frozenset[int] = frozenset(
    {
        OrderState.ORDER_STATE_VALIDATED,
        OrderState.ORDER_STATE_FAILED,
        OrderState.ORDER_STATE_SHIPPED,
        OrderState.ORDER_STATE_CANCELLED,
    }
)


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
    "TERMINAL_STATES",
    "CheckOutcome",
    "CheckResult",
    "CheckType",
    "Customer",
    "CustomerLevel",
    "LogPosition",
    "Order",
    "OrderState",
    "Payment",
    "PlaceOrderResponse",
    "ProductStock",
    "RecordPaymentResponse",
    "check_result_name",
    "check_type_name",
    "is_terminal",
    "state_name",
]
