"""The confirmation email of a paid order. Pure: no I/O."""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import quote

from oms.notifications.v1 import email_pb2


def email_id(order_id: str) -> str:
    """The one email an order gets: its idempotency key in the outbox and sender."""
    return f"order-confirmation/{order_id}"


def message_id(email_id: str) -> str:
    """A Message-ID derived from the email id only, so that a resend after a
    crash carries the same one and mail systems can recognise it."""
    return f"<{quote(email_id, safe='')}@oms.localhost>"


def confirmation(request: email_pb2.EmailRequested, sender: str) -> EmailMessage:
    customer, order, payment = request.customer, request.order, request.payment
    name = " ".join(n for n in (customer.first_name, customer.last_name) if n) or "customer"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = customer.email
    message["Subject"] = f"Order {order.order_id}: payment received"
    message["Message-ID"] = message_id(request.email_id)
    message.set_content(
        f"Dear {name},\n\n"
        f"we received your payment of {payment.amount:.2f} {payment.currency} for order {order.order_id}:\n"
        f"  {order.quantity} x {order.product} at {order.price:.2f}\n\n"
        f"Payment reference: {payment.payment_id}\n\n"
        "Thank you for your order.\n"
    )
    return message
