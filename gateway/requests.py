"""Checks of request shape. Business rules stay with the validators: an
order with a negative quantity is well-formed, and fails its details check."""

from __future__ import annotations

import math
import re

from gateway.errors import FieldViolation, invalid_argument
from oms.orders.v1 import command_service_pb2
from orders.domain import OrderDetails

ORDER_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_PRODUCT_LENGTH = 64


def order_id_violations(order_id: str, field: str = "order_id") -> list[FieldViolation]:
    if not order_id:
        return [FieldViolation(field, "is required")]
    if not ORDER_ID.fullmatch(order_id):
        return [FieldViolation(field, "must be 1-64 characters of A-Z a-z 0-9 . _ : -")]
    return []


def product_violations(product: str, field: str = "product") -> list[FieldViolation]:
    if not product:
        return [FieldViolation(field, "is required")]
    if len(product) > MAX_PRODUCT_LENGTH:
        return [FieldViolation(field, f"must be at most {MAX_PRODUCT_LENGTH} characters")]
    return []


def require_order_id(order_id: str) -> str:
    violations = order_id_violations(order_id)
    if violations:
        raise invalid_argument(violations)
    return order_id


def require_product(product: str) -> str:
    violations = product_violations(product)
    if violations:
        raise invalid_argument(violations)
    return product


def place_order_details(request: command_service_pb2.PlaceOrderRequest) -> OrderDetails:
    violations = order_id_violations(request.order_id) + product_violations(request.product)
    if request.customer_id <= 0:
        violations.append(FieldViolation("customer_id", "must be greater than 0"))
    if not math.isfinite(request.price):
        violations.append(FieldViolation("price", "must be a finite number"))
    if violations:
        raise invalid_argument(violations)
    return OrderDetails(request.order_id, request.customer_id, request.product, request.quantity, request.price)
