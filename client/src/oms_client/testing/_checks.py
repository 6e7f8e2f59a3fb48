"""The platform's request checks, as the fake answers them.

A copy of the front door's shape checks (the server's gateway/app/checks.py,
which the SDK must not import): the same fields, the same descriptions. The
contract suite (tests/contract) runs the same calls against the fake and the
platform, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from oms_client._gen.customers.v1 import customers_pb2
from oms_client._gen.orders.v1 import order_pb2

ORDER_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_PRODUCT_LENGTH = 64
EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
MAX_EMAIL_LENGTH = 254
MAX_TEXT_LENGTH = 256
KNOWN_LEVELS = frozenset(customers_pb2.CustomerLevel.values())
CURRENCY = re.compile(r"[A-Z]{3}")
MAX_AMOUNT = 1e12
MAX_QUANTITY = 1_000_000_000
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
TEXT_RULE = "without control, format (bidi, zero-width) or unassigned characters"
STATES = frozenset(order_pb2.OrderState.values()) - {order_pb2.ORDER_STATE_UNSPECIFIED}


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


Violations = list[FieldViolation]


def plain_text(value: str) -> bool:
    return not any(unicodedata.category(c) in FORBIDDEN_CATEGORIES for c in value)


def order_id_violations(order_id: str, field: str = "order_id") -> Violations:
    if not order_id:
        return [FieldViolation(field, "is required")]
    if not ORDER_ID.fullmatch(order_id):
        return [FieldViolation(field, "must be 1-64 characters of A-Z a-z 0-9 . _ : -")]
    return []


def product_violations(product: str, field: str = "product") -> Violations:
    if not product:
        return [FieldViolation(field, "is required")]
    if len(product) > MAX_PRODUCT_LENGTH:
        return [FieldViolation(field, f"must be at most {MAX_PRODUCT_LENGTH} characters")]
    if not plain_text(product):
        return [FieldViolation(field, f"must be text {TEXT_RULE}")]
    return []


def place_order_violations(order_id: str, customer_id: int, product: str, price: float, quantity: int) -> Violations:
    violations = order_id_violations(order_id) + product_violations(product)
    if customer_id <= 0:
        violations.append(FieldViolation("customer_id", "must be greater than 0"))
    if not math.isfinite(price):
        violations.append(FieldViolation("price", "must be a finite number"))
    elif abs(price) > MAX_AMOUNT:
        violations.append(FieldViolation("price", f"must be at most {MAX_AMOUNT:.0e} in size"))
    if abs(quantity) > MAX_QUANTITY:
        violations.append(FieldViolation("quantity", f"must be at most {MAX_QUANTITY} in size"))
    elif math.isfinite(price) and not abs(quantity * price) <= MAX_AMOUNT:
        violations.append(FieldViolation("price", f"quantity x price must be at most {MAX_AMOUNT:.0e} in size"))
    return violations


def stock_violations(product: str, quantity: int) -> Violations:
    violations = product_violations(product)
    if quantity < 0:
        violations.append(FieldViolation("quantity", "must be 0 or more"))
    elif quantity > MAX_QUANTITY:
        violations.append(FieldViolation("quantity", f"must be at most {MAX_QUANTITY}"))
    return violations


def customer_id_violations(customer_id: int, field: str = "customer_id") -> Violations:
    return [] if customer_id > 0 else [FieldViolation(field, "must be greater than 0")]


def customer_violations(customer: customers_pb2.Customer, prefix: str = "customer.") -> Violations:
    violations = customer_id_violations(customer.customer_id, prefix + "customer_id")
    if not customer.email:
        violations.append(FieldViolation(prefix + "email", "is required"))
    elif len(customer.email) > MAX_EMAIL_LENGTH or not EMAIL.fullmatch(customer.email):
        violations.append(FieldViolation(prefix + "email", "must be an email address such as jo@example.com"))
    if customer.level not in KNOWN_LEVELS:
        violations.append(FieldViolation(prefix + "level", f"unknown level {customer.level}"))
    for name in ("first_name", "last_name", "address"):
        value = getattr(customer, name)
        if len(value) > MAX_TEXT_LENGTH or not plain_text(value):
            violations.append(
                FieldViolation(prefix + name, f"must be at most {MAX_TEXT_LENGTH} characters, {TEXT_RULE}")
            )
    return violations


def payment_violations(payment_id: str, order_id: str, amount: float, currency: str) -> Violations:
    violations = order_id_violations(payment_id, "payment_id") + order_id_violations(order_id, "order_id")
    if not math.isfinite(amount) or amount <= 0 or amount > MAX_AMOUNT:
        violations.append(FieldViolation("amount", f"must be a number greater than 0 and at most {MAX_AMOUNT:.0e}"))
    if not CURRENCY.fullmatch(currency):
        violations.append(FieldViolation("currency", "must be an ISO 4217 code of three capital letters, such as EUR"))
    return violations


def position_violations(partition: int, offset: int, field: str = "min_position") -> Violations:
    violations = []
    if partition < 0:
        violations.append(FieldViolation(field + ".partition", "must be 0 or more"))
    if offset < 0:
        violations.append(FieldViolation(field + ".offset", "must be 0 or more"))
    return violations


def reason_violations(reason: str, field: str = "reason") -> Violations:
    if len(reason) > MAX_TEXT_LENGTH or not plain_text(reason):
        return [FieldViolation(field, f"must be at most {MAX_TEXT_LENGTH} characters, {TEXT_RULE}")]
    return []


def list_orders_violations(customer_id: int, state: int, product: str, page_size: int) -> Violations:
    violations = []
    if customer_id < 0:
        violations.append(FieldViolation("customer_id", "must be 0 (any) or greater"))
    if state and state not in STATES:
        violations.append(FieldViolation("state", f"unknown state {state}"))
    if product:
        violations += product_violations(product)
    if page_size < 0:
        violations.append(FieldViolation("page_size", "must be 0 (the default) or greater"))
    return violations
