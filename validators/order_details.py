"""Order details check: is the order well-formed enough to fulfil?"""

from __future__ import annotations

import math

from orders.domain import Check, CheckOutcome, OrderDetails, Result


def check_order_details(order: OrderDetails) -> CheckOutcome:
    problems = []
    if order.customer_id <= 0:
        problems.append("customer id is missing")
    if not order.product:
        problems.append("product is missing")
    if order.quantity <= 0:
        problems.append(f"quantity {order.quantity} is not positive")
    if not math.isfinite(order.price) or order.price < 0:
        problems.append(f"price {order.price} is negative or not a number")
    if problems:
        return CheckOutcome(Check.ORDER_DETAILS, Result.FAIL, "; ".join(problems))
    return CheckOutcome(Check.ORDER_DETAILS, Result.PASS)
