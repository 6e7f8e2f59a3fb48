"""Request building shared by the sync and asyncio clients."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc

from oms_client._gen.customers.v1 import customers_pb2
from oms_client._gen.deadletter.v1 import dead_letter_service_pb2
from oms_client._gen.inventory.v1 import inventory_pb2
from oms_client._gen.orders.v1 import command_service_pb2, query_service_pb2
from oms_client._gen.payments.v1 import payments_pb2
from oms_client.types import Customer, CustomerLevel, LogPosition, OrderState

DEFAULT_TARGET = "localhost:50051"
# Overall deadline of one unary call, retries included.
DEFAULT_TIMEOUT_S = 30.0
# wait_for_terminal's default: validation normally takes well under a second,
# the aggregator's own check timeout is 30 s.
DEFAULT_WAIT_S = 60.0


def tls_credentials(
    ca: str | Path | None, cert: str | Path | None = None, key: str | Path | None = None
) -> grpc.ChannelCredentials:
    """TLS to the front door: `ca` verifies the server (None: the system's
    CAs); `cert` and `key`, a client certificate for mTLS."""
    if (cert is None) != (key is None):
        raise ValueError("a client certificate needs its key: give both cert and key, or neither")
    return grpc.ssl_channel_credentials(
        root_certificates=Path(ca).read_bytes() if ca else None,
        private_key=Path(key).read_bytes() if key else None,
        certificate_chain=Path(cert).read_bytes() if cert else None,
    )


def token_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """The metadata that sends a bearer token with every call."""
    return (("authorization", f"Bearer {token}"),) if token else ()


def new_order_id() -> str:
    """A fresh idempotency key for PlaceOrder: 'order-' and 32 hex digits."""
    return f"order-{uuid.uuid4().hex}"


def new_payment_id() -> str:
    return f"payment-{uuid.uuid4().hex}"


def place_order(
    order_id: str | None, customer_id: int, product: str, quantity: int, price: float
) -> command_service_pb2.PlaceOrderRequest:
    return command_service_pb2.PlaceOrderRequest(
        order_id=order_id if order_id is not None else new_order_id(),
        customer_id=customer_id,
        product=product,
        quantity=quantity,
        price=price,
    )


def get_order(order_id: str, after: LogPosition | None) -> query_service_pb2.GetOrderRequest:
    return query_service_pb2.GetOrderRequest(order_id=order_id, min_position=after)


def watch_order(
    order_id: str, after: LogPosition | None, until_closed: bool = False
) -> query_service_pb2.WatchOrderRequest:
    return query_service_pb2.WatchOrderRequest(order_id=order_id, min_position=after, until_closed=until_closed)


def set_stock(product: str, quantity: int) -> inventory_pb2.SetStockRequest:
    return inventory_pb2.SetStockRequest(product=product, quantity=quantity)


def get_stock(product: str) -> inventory_pb2.GetStockRequest:
    return inventory_pb2.GetStockRequest(product=product)


def customer(
    customer_id: int,
    first_name: str,
    last_name: str,
    email: str,
    address: str,
    level: CustomerLevel | str | int,
) -> Customer:
    if isinstance(level, str):
        name = level.upper()
        level = CustomerLevel.Value(name if name.startswith("CUSTOMER_LEVEL_") else f"CUSTOMER_LEVEL_{name}")
    return Customer(
        customer_id=customer_id,
        first_name=first_name,
        last_name=last_name,
        email=email,
        address=address,
        level=level,  # type: ignore[arg-type]
    )


def upsert_customer(value: Customer) -> customers_pb2.UpsertCustomerRequest:
    return customers_pb2.UpsertCustomerRequest(customer=value)


def get_customer(customer_id: int) -> customers_pb2.GetCustomerRequest:
    return customers_pb2.GetCustomerRequest(customer_id=customer_id)


def record_payment(
    payment_id: str | None, order_id: str, amount: float, currency: str
) -> payments_pb2.RecordPaymentRequest:
    return payments_pb2.RecordPaymentRequest(
        payment_id=payment_id if payment_id is not None else new_payment_id(),
        order_id=order_id,
        currency=currency,
        amount=amount,
    )


def list_payments(order_id: str) -> payments_pb2.ListPaymentsRequest:
    return payments_pb2.ListPaymentsRequest(order_id=order_id)


def list_dead_letters(
    processor: str | None, page_size: int, page_token: str
) -> dead_letter_service_pb2.ListDeadLettersRequest:
    return dead_letter_service_pb2.ListDeadLettersRequest(
        processor=processor or "", page_size=page_size, page_token=page_token
    )


def cancel_order(order_id: str, reason: str) -> command_service_pb2.CancelOrderRequest:
    return command_service_pb2.CancelOrderRequest(order_id=order_id, reason=reason)


def ship_order(order_id: str) -> command_service_pb2.ShipOrderRequest:
    return command_service_pb2.ShipOrderRequest(order_id=order_id)


def list_order_events(order_id: str, after: LogPosition | None) -> query_service_pb2.ListOrderEventsRequest:
    return query_service_pb2.ListOrderEventsRequest(order_id=order_id, min_position=after)


def order_state(state: OrderState | str | int | None) -> int:
    """An order state given as its value or name (`VALIDATED` or `ORDER_STATE_VALIDATED`); None: any."""
    if state is None:
        return 0
    if isinstance(state, str):
        name = state.upper()
        return OrderState.Value(name if name.startswith("ORDER_STATE_") else f"ORDER_STATE_{name}")
    return int(state)


def list_orders(
    customer_id: int | None, state: OrderState | str | int | None, product: str | None, page_size: int, page_token: str
) -> query_service_pb2.ListOrdersRequest:
    return query_service_pb2.ListOrdersRequest(
        customer_id=customer_id or 0,
        state=order_state(state),  # type: ignore[arg-type]
        product=product or "",
        page_size=page_size,
        page_token=page_token,
    )


def watch_orders(customer_id: int, resume_token: str | None) -> query_service_pb2.WatchOrdersRequest:
    return query_service_pb2.WatchOrdersRequest(customer_id=customer_id, resume_token=resume_token or "")
