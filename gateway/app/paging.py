"""Page and resume tokens: opaque to clients, tamper-evident (HMAC-SHA256
under the gateway's page token key), and bound to what they were issued for
(a list's filters, a customer's stream), so a forged or foreign token is
refused as INVALID_ARGUMENT.

A page token pins where the last page ended, (placed_at, order id), not an
offset: orders placed meanwhile are newer and never shift later pages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable

from gateway.app.errors import FieldViolation, InvalidRequest
from gateway.app.ports import Cursor, DeadLetterCursor
from oms.orders.v1 import order_pb2

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def page_size(requested: int) -> int:
    """A list's page size: the default for 0, capped."""
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Tokens:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a page token key needs at least 16 bytes")
        self._key = key

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def issue(self, scope: str, values: list[object]) -> str:
        payload = json.dumps([scope, *values], separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def read(self, scope: str, token: str, field: str) -> list[object]:
        """The values a token was issued with, for this scope; else InvalidRequest."""
        try:
            encoded, signature = token.split(".")
            payload = _unb64(encoded)
            valid = hmac.compare_digest(_unb64(signature), self._sign(payload))
            values = json.loads(payload) if valid else None
        except (ValueError, TypeError):
            values = None
        if not isinstance(values, list) or not values or values[0] != scope:
            raise InvalidRequest([FieldViolation(field, "is not a token this service issued for this request")])
        return values[1:]

    # -- ListOrders
    def page(self, scope: str, cursor: Cursor) -> str:
        return self.issue(scope, [cursor[0], cursor[1]])

    def cursor(self, scope: str, token: str) -> Cursor | None:
        if not token:
            return None
        values = self.read(scope, token, "page_token")
        try:
            placed_ms, order_id = values
            return int(placed_ms), str(order_id)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            raise InvalidRequest([FieldViolation("page_token", "is malformed")]) from None

    # -- ListDeadLetters
    def dead_letters_page(self, scope: str, cursor: DeadLetterCursor) -> str:
        return self.issue(scope, list(cursor))

    def dead_letter_cursor(self, scope: str, token: str) -> DeadLetterCursor | None:
        if not token:
            return None
        values = self.read(scope, token, "page_token")
        if len(values) != 3 or not all(isinstance(value, int) for value in values):
            raise InvalidRequest([FieldViolation("page_token", "is malformed")])
        return DeadLetterCursor(*values)  # type: ignore[arg-type]

    # -- WatchOrders
    def resume(self, customer_id: int, offset: int) -> str:
        return self.issue(f"watch/{customer_id}", [offset])

    def resumed_after(self, customer_id: int, token: str) -> int | None:
        if not token:
            return None
        values = self.read(f"watch/{customer_id}", token, "resume_token")
        if len(values) != 1 or not isinstance(values[0], int):
            raise InvalidRequest([FieldViolation("resume_token", "is malformed")])
        return values[0]


def newest_first(order: order_pb2.Order) -> tuple[int, bytes]:
    """The sort key of every order list: newest placed_at first, then order id."""
    return (-int(order.placed_at.ToMilliseconds()), order.order_id.encode())


def merge(pages: Iterable[list[order_pb2.Order]], limit: int) -> tuple[list[order_pb2.Order], Cursor | None]:
    """One page from partial ones (each newest first, each up to limit + 1
    long): the first `limit` orders, and the cursor to go on from if more
    remain."""
    every = sorted((order for page in pages for order in page), key=newest_first)
    if len(every) <= limit:
        return every, None
    page = every[:limit]
    last = page[-1]
    return page, (int(last.placed_at.ToMilliseconds()), last.order_id)
