"""The fake's in-memory platform: orders, their history, stock, customers and
payments, under one lock, with the platform's lifecycle rules. Nothing here
knows gRPC; refusals are raised as `Refusal` (a google.rpc.Status)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TypeVar

from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2

from oms_client._gen.customers.v1 import customers_pb2
from oms_client._gen.inventory.v1 import inventory_pb2
from oms_client._gen.orders.v1 import order_pb2, query_service_pb2
from oms_client._gen.payments.v1 import payments_pb2
from oms_client.testing._checks import FieldViolation, Violations

M = TypeVar("M", bound=Message)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
FRAUD_LIMIT = 2000.0
SESSION_GAP_S = 3600.0

S = order_pb2
CANCELLABLE = frozenset({S.ORDER_STATE_CREATED, S.ORDER_STATE_VALIDATED})
CLOSED = frozenset({S.ORDER_STATE_FAILED, S.ORDER_STATE_SHIPPED, S.ORDER_STATE_CANCELLED})
TERMINAL = CLOSED | {S.ORDER_STATE_VALIDATED}


class Refusal(Exception):
    """A call answered with a status other than OK."""

    def __init__(self, status: status_pb2.Status) -> None:
        super().__init__(status.message)
        self.status = status


def _status(code: int, message: str, *details: Message) -> Refusal:
    packed = []
    for detail in details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)
        packed.append(any_detail)
    return Refusal(status_pb2.Status(code=code, message=message, details=packed))


def invalid(violations: Violations) -> Refusal:
    bad = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description) for v in violations
        ]
    )
    return _status(code_pb2.INVALID_ARGUMENT, "; ".join(f"{v.field}: {v.description}" for v in violations), bad)


def require(violations: Violations) -> None:
    if violations:
        raise invalid(violations)


def not_found(kind: str, name: str, description: str) -> Refusal:
    info = error_details_pb2.ResourceInfo(resource_type=kind, resource_name=name, description=description)
    return _status(code_pb2.NOT_FOUND, description, info)


def already_exists(message: str, reason: str, **metadata: str) -> Refusal:
    info = error_details_pb2.ErrorInfo(reason=reason, domain="oms", metadata=metadata)
    return _status(code_pb2.ALREADY_EXISTS, message, info)


def failed_precondition(message: str, order_id: str, missing: list[tuple[str, str]]) -> Refusal:
    failure = error_details_pb2.PreconditionFailure(
        violations=[
            error_details_pb2.PreconditionFailure.Violation(type=kind, subject=f"order/{order_id}", description=text)
            for kind, text in missing
        ]
    )
    return _status(code_pb2.FAILED_PRECONDITION, message, failure)


def state_name(state: int) -> str:
    return S.OrderState.Name(state).removeprefix("ORDER_STATE_")


def cents(amount: float) -> int:
    return round(amount * 100)


class Tokens:
    """Opaque, tamper-evident tokens (HMAC-SHA256 under a key of this fake),
    bound to what they were issued for, as the platform's."""

    def __init__(self) -> None:
        self._key = os.urandom(32)

    @staticmethod
    def _b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    def issue(self, scope: str, values: list[object]) -> str:
        payload = json.dumps([scope, *values], separators=(",", ":")).encode()
        signature = hmac.new(self._key, payload, hashlib.sha256).digest()
        return f"{self._b64(payload)}.{self._b64(signature)}"

    def read(self, scope: str, token: str, name: str) -> list[object]:
        try:
            encoded, signature = token.split(".")
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
            valid = hmac.compare_digest(given, hmac.new(self._key, payload, hashlib.sha256).digest())
            values = json.loads(payload) if valid else None
        except (ValueError, TypeError):
            values = None
        if not isinstance(values, list) or not values or values[0] != scope:
            raise invalid([FieldViolation(name, "is not a token this service issued for this request")])
        return values[1:]


@dataclass
class _Entry:
    order: order_pb2.Order
    history: list[query_service_pb2.OrderHistoryEvent] = field(default_factory=list)
    reserved: int = 0


@dataclass
class _Session:
    last_s: float
    total: float


class State:
    """Everything the fake holds. Every method takes the lock; `changed` is
    notified on each change, for the watches."""

    def __init__(
        self, *, auto_decide: bool = True, fraud_limit: float | None = FRAUD_LIMIT, currency: str = "EUR"
    ) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.auto_decide = auto_decide
        self.fraud_limit = fraud_limit
        self.currency = currency
        self.tokens = Tokens()
        self.orders: dict[str, _Entry] = {}
        self.stock: dict[str, inventory_pb2.ProductStock] = {}
        self.customers: dict[int, customers_pb2.Customer] = {}
        self.payments: dict[str, payments_pb2.Payment] = {}
        self.paid: dict[str, float] = {}
        self.sessions: dict[int, _Session] = {}
        # Every change to each customer's orders, in order: the WatchOrders log.
        self.changes: dict[int, list[query_service_pb2.WatchOrdersResponse]] = {}
        self.offset = 0
        self.closing = False

    # -- recording
    def _next_offset(self) -> int:
        self.offset += 1
        return self.offset

    def _record(
        self,
        entry: _Entry,
        kind: query_service_pb2.OrderEventKind,
        checks: list[order_pb2.CheckOutcome] | None = None,
        reason: str = "",
    ) -> int:
        """Appends an event to the order's history and to its customer's
        changes; returns its position (offset in the fake's one partition)."""
        order = entry.order
        now = time.time()
        order.version += 1
        order.updated_at.FromMilliseconds(int(now * 1000))
        event = query_service_pb2.OrderHistoryEvent(
            version=order.version, kind=kind, state=order.state, checks=checks or [], reason=reason
        )
        event.occurred_at.FromMilliseconds(int(now * 1000))
        entry.history.append(event)
        change = query_service_pb2.WatchOrdersResponse(kind=kind)
        change.order.CopyFrom(order)
        self.changes.setdefault(order.customer_id, []).append(change)
        self.changed.notify_all()
        return self._next_offset()

    # -- orders
    def order(self, order_id: str) -> order_pb2.Order:
        with self.lock:
            entry = self.orders.get(order_id)
            if entry is None:
                raise not_found("order", order_id, f"no order {order_id}")
            return _copy(entry.order)

    def place(
        self, order_id: str, customer_id: int, product: str, quantity: int, price: float
    ) -> tuple[order_pb2.Order, int | None]:
        with self.lock:
            entry = self.orders.get(order_id)
            if entry is not None:
                o = entry.order
                if (o.customer_id, o.product, o.quantity, o.price) != (customer_id, product, quantity, price):
                    raise already_exists(
                        f"order {order_id} was already placed with other content", "ORDER_ID_REUSED", order_id=order_id
                    )
                return _copy(o), None
            order = order_pb2.Order(
                order_id=order_id,
                customer_id=customer_id,
                product=product,
                quantity=quantity,
                price=price,
                state=S.ORDER_STATE_CREATED,
            )
            order.placed_at.FromMilliseconds(int(time.time() * 1000))
            entry = _Entry(order)
            self.orders[order_id] = entry
            offset = self._record(entry, query_service_pb2.ORDER_EVENT_KIND_PLACED)
            placed = _copy(order)
            if self.auto_decide:
                self.decide(order_id)
            return placed, offset

    def decide(self, order_id: str) -> order_pb2.Order:
        """Runs the checks of a CREATED order and records the verdict."""
        with self.lock:
            entry = self.orders[order_id]
            order = entry.order
            if order.state != S.ORDER_STATE_CREATED:
                return _copy(order)
            checks = [self._details(order), self._fraud(order), self._inventory(order)]
            passed = all(c.result == S.CHECK_RESULT_PASS for c in checks)
            order.checks.extend(checks)
            if passed:
                stock = self.stock[order.product]
                stock.reserved += order.quantity
                entry.reserved = order.quantity
                order.state = S.ORDER_STATE_VALIDATED
                self._record(entry, query_service_pb2.ORDER_EVENT_KIND_VALIDATED, checks=checks)
            else:
                order.state = S.ORDER_STATE_FAILED
                self._record(entry, query_service_pb2.ORDER_EVENT_KIND_FAILED, checks=checks)
            return _copy(order)

    @staticmethod
    def _details(order: order_pb2.Order) -> order_pb2.CheckOutcome:
        problems = []
        if order.customer_id <= 0:
            problems.append("customer id is missing")
        if not order.product:
            problems.append("product is missing")
        if order.quantity <= 0:
            problems.append(f"quantity {order.quantity} is not positive")
        if not math.isfinite(order.price) or order.price < 0:
            problems.append(f"price {order.price} is negative or not a number")
        result = S.CHECK_RESULT_FAIL if problems else S.CHECK_RESULT_PASS
        return order_pb2.CheckOutcome(check_type=S.CHECK_TYPE_ORDER_DETAILS, result=result, reason="; ".join(problems))

    def _fraud(self, order: order_pb2.Order) -> order_pb2.CheckOutcome:
        outcome = order_pb2.CheckOutcome(check_type=S.CHECK_TYPE_FRAUD, result=S.CHECK_RESULT_PASS)
        if self.fraud_limit is None:
            return outcome
        amount = order.quantity * order.price
        counted = amount if math.isfinite(amount) and amount > 0 else 0.0
        now = time.time()
        session = self.sessions.get(order.customer_id)
        if session is None or now - session.last_s > SESSION_GAP_S:
            session = self.sessions[order.customer_id] = _Session(now, 0.0)
        session.last_s = now
        session.total += counted
        if session.total >= self.fraud_limit:
            outcome.result = S.CHECK_RESULT_FAIL
            outcome.reason = (
                f"customer {order.customer_id} spent {session.total:.2f} in one session; "
                f"the limit is {self.fraud_limit:.0f}"
            )
        return outcome

    def _inventory(self, order: order_pb2.Order) -> order_pb2.CheckOutcome:
        outcome = order_pb2.CheckOutcome(check_type=S.CHECK_TYPE_INVENTORY, result=S.CHECK_RESULT_FAIL)
        stock = self.stock.get(order.product)
        if stock is None:
            outcome.reason = f"no stock record for product {order.product!r}"
        elif order.quantity <= 0:
            outcome.reason = f"quantity {order.quantity} is not positive"
        elif stock.quantity - stock.reserved >= order.quantity:
            outcome.result = S.CHECK_RESULT_PASS
        else:
            available = max(stock.quantity - stock.reserved, 0)
            outcome.reason = f"{order.quantity} of {order.product!r} requested, {available} available"
        return outcome

    def cancel(self, order_id: str, reason: str) -> tuple[order_pb2.Order, int | None, bool]:
        with self.lock:
            entry = self.orders.get(order_id)
            if entry is None:
                raise not_found("order", order_id, f"no order {order_id}")
            order = entry.order
            if order.state == S.ORDER_STATE_CANCELLED:
                return _copy(order), None, False
            if order.state not in CANCELLABLE:
                state = state_name(order.state)
                raise failed_precondition(
                    f"order {order_id} is {state} and cannot be cancelled",
                    order_id,
                    [("STATE", f"the order is {state}")],
                )
            if entry.reserved:
                self.stock[order.product].reserved -= entry.reserved
                entry.reserved = 0
            order.state = S.ORDER_STATE_CANCELLED
            offset = self._record(entry, query_service_pb2.ORDER_EVENT_KIND_CANCELLED, reason=reason)
            return _copy(order), offset, True

    def ship(self, order_id: str) -> tuple[order_pb2.Order, int | None, bool]:
        with self.lock:
            entry = self.orders.get(order_id)
            if entry is None:
                raise not_found("order", order_id, f"no order {order_id}")
            order = entry.order
            if order.state == S.ORDER_STATE_SHIPPED:
                return _copy(order), None, False
            paid = self.paid.get(order_id, 0.0)
            amount = order.quantity * order.price
            missing = []
            if order.state != S.ORDER_STATE_VALIDATED:
                missing.append(("STATE", f"the order is {state_name(order.state)}, not VALIDATED"))
            if cents(paid) < cents(amount):
                missing.append(("PAYMENT", f"{paid:.2f} of {amount:.2f} paid"))
            if missing:
                raise failed_precondition(
                    f"order {order_id} cannot be shipped: " + "; ".join(text for _, text in missing), order_id, missing
                )
            stock = self.stock[order.product]
            stock.quantity -= entry.reserved
            stock.reserved -= entry.reserved
            entry.reserved = 0
            order.state = S.ORDER_STATE_SHIPPED
            offset = self._record(entry, query_service_pb2.ORDER_EVENT_KIND_SHIPPED)
            return _copy(order), offset, True

    def history(self, order_id: str) -> list[query_service_pb2.OrderHistoryEvent]:
        with self.lock:
            self.order(order_id)
            return [_copy(e) for e in self.orders[order_id].history]

    def page(
        self, customer_id: int, state: int, product: str, page_size: int, token: str
    ) -> tuple[list[order_pb2.Order], str]:
        scope = f"orders/{customer_id}/{state}/{product}"
        after: tuple[int, bytes] | None = None
        if token:
            values = self.tokens.read(scope, token, "page_token")
            try:
                placed_ms, last_id = values
                after = (-int(placed_ms), str(last_id).encode())  # type: ignore[call-overload]
            except (TypeError, ValueError):
                raise invalid([FieldViolation("page_token", "is malformed")]) from None
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        with self.lock:
            chosen = [
                e.order
                for e in self.orders.values()
                if (not customer_id or e.order.customer_id == customer_id)
                and (not state or e.order.state == state)
                and (not product or e.order.product == product)
            ]
            chosen.sort(key=_newest_first)
            if after is not None:
                chosen = [o for o in chosen if _newest_first(o) > after]
            page = [_copy(o) for o in chosen[: size + 1]]
        if len(page) <= size:
            return page, ""
        last = page[size - 1]
        return page[:size], self.tokens.issue(scope, [int(last.placed_at.ToMilliseconds()), last.order_id])

    # -- stock, customers, payments
    def set_stock(self, product: str, quantity: int) -> inventory_pb2.ProductStock:
        with self.lock:
            stock = self.stock.setdefault(product, inventory_pb2.ProductStock(product=product))
            stock.quantity = quantity
            return _copy(stock)

    def get_stock(self, product: str) -> inventory_pb2.ProductStock:
        with self.lock:
            stock = self.stock.get(product)
            if stock is None:
                raise not_found("product", product, f"no stock record for product {product}")
            return _copy(stock)

    def upsert_customer(self, customer: customers_pb2.Customer) -> customers_pb2.Customer:
        stored = _copy(customer)
        if stored.level == customers_pb2.CUSTOMER_LEVEL_UNSPECIFIED:
            stored.level = customers_pb2.CUSTOMER_LEVEL_BRONZE
        with self.lock:
            self.customers[stored.customer_id] = stored
        return _copy(stored)

    def get_customer(self, customer_id: int) -> customers_pb2.Customer:
        with self.lock:
            customer = self.customers.get(customer_id)
            if customer is None:
                raise not_found("customer", str(customer_id), f"no customer {customer_id}")
            return _copy(customer)

    def record_payment(
        self, payment_id: str, order_id: str, amount: float, currency: str
    ) -> tuple[payments_pb2.Payment, bool]:
        with self.lock:
            found = self.payments.get(payment_id)
            if found is not None:
                if (found.order_id, found.currency, found.amount) != (order_id, currency, amount):
                    raise already_exists(
                        f"payment {payment_id} was already recorded with other content",
                        "PAYMENT_ID_REUSED",
                        payment_id=payment_id,
                    )
                return _copy(found), False
            payment = payments_pb2.Payment(payment_id=payment_id, order_id=order_id, currency=currency, amount=amount)
            payment.recorded_at.FromMilliseconds(int(time.time() * 1000))
            self.payments[payment_id] = payment
            self.paid[order_id] = self.paid.get(order_id, 0.0) + amount
            self._next_offset()
            return _copy(payment), True

    # -- WatchOrders
    def latest_change(self, customer_id: int) -> int:
        with self.lock:
            return len(self.changes.get(customer_id, []))

    def changes_after(self, customer_id: int, after: int) -> list[tuple[int, query_service_pb2.WatchOrdersResponse]]:
        with self.lock:
            log = self.changes.get(customer_id, [])
            return [(i + 1, _copy(c)) for i, c in enumerate(log[after:], start=after)]


def _newest_first(order: order_pb2.Order) -> tuple[int, bytes]:
    return (-int(order.placed_at.ToMilliseconds()), order.order_id.encode())


def _copy(message: M) -> M:
    copied = type(message)()
    copied.CopyFrom(message)
    return copied
