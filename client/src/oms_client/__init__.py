"""Python SDK of the OMS order-management API (gRPC).

    from oms_client import OmsClient

    with OmsClient("localhost:50051") as oms:
        oms.set_stock("JUMPERS", 10)
        placed = oms.place_order(customer_id=42, product="JUMPERS", quantity=2, price=12.5)
        for order in oms.watch_order(placed.order.order_id):
            print(order.state, order.checks)

`AsyncOmsClient` offers the same calls for asyncio. Results are the API's
protobuf messages (`oms_client.types`); failures raise the typed
exceptions of `oms_client.errors`.
"""

from oms_client._requests import new_order_id, new_payment_id
from oms_client._retry import NO_RETRY, RetryPolicy
from oms_client._version import __version__
from oms_client.aio import AsyncOmsClient
from oms_client.client import OmsClient
from oms_client.errors import (
    AlreadyExists,
    Cancelled,
    DeadlineExceeded,
    FailedPrecondition,
    FieldViolation,
    InternalError,
    InvalidArgument,
    NotFound,
    OmsError,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from oms_client.types import (
    CLOSED_STATES,
    TERMINAL_STATES,
    CancelOrderResponse,
    CheckOutcome,
    CheckResult,
    CheckType,
    Customer,
    CustomerLevel,
    DeadLetter,
    DeadLetterEntry,
    ListPaymentsResponse,
    LogPosition,
    Order,
    OrderEventKind,
    OrderHistoryEvent,
    OrderState,
    Payment,
    PlaceOrderResponse,
    ProductStock,
    RecordPaymentResponse,
    ShipOrderResponse,
    WatchOrdersResponse,
    check_result_name,
    check_type_name,
    event_kind_name,
    is_closed,
    is_terminal,
    state_name,
)

__all__ = [
    "CLOSED_STATES",
    "NO_RETRY",
    "TERMINAL_STATES",
    "AlreadyExists",
    "AsyncOmsClient",
    "CancelOrderResponse",
    "Cancelled",
    "CheckOutcome",
    "CheckResult",
    "CheckType",
    "Customer",
    "CustomerLevel",
    "DeadLetter",
    "DeadLetterEntry",
    "DeadlineExceeded",
    "FailedPrecondition",
    "FieldViolation",
    "InternalError",
    "InvalidArgument",
    "ListPaymentsResponse",
    "LogPosition",
    "NotFound",
    "OmsClient",
    "OmsError",
    "Order",
    "OrderEventKind",
    "OrderHistoryEvent",
    "OrderState",
    "Payment",
    "PermissionDenied",
    "PlaceOrderResponse",
    "ProductStock",
    "RecordPaymentResponse",
    "ResourceExhausted",
    "RetryPolicy",
    "ShipOrderResponse",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "WatchOrdersResponse",
    "__version__",
    "check_result_name",
    "check_type_name",
    "event_kind_name",
    "is_closed",
    "is_terminal",
    "new_order_id",
    "new_payment_id",
    "state_name",
]
