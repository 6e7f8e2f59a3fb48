"""Who is looking: the token the browser keeps (an HttpOnly, SameSite=Strict
cookie) and the CSRF token of its forms. The console verifies no token: it
sends it with every call and the API decides. It reads the token's claims,
unverified, only to hide what the viewer may not do."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

import jwt

TOKEN_COOKIE = "oms_token"
CSRF_COOKIE = "oms_csrf"
CSRF_FIELD = "csrf"
ADMIN_SCOPE = "oms:admin"
CUSTOMER_SCOPE = "oms:customer"


@dataclass(frozen=True)
class Viewer:
    """token: sent on every call (None: auth off). admin / customer_id: what
    the token claims, for the UI only."""

    token: str | None
    admin: bool
    customer_id: int | None = None

    @property
    def label(self) -> str:
        if self.token is None:
            return "local admin (auth off)"
        if self.admin:
            return "admin"
        return f"customer {self.customer_id}" if self.customer_id else "unknown token"


def viewer_of(token: str | None, auth: bool) -> Viewer | None:
    """The viewer of a request; None when auth is on and there is no token."""
    if not auth:
        return Viewer(None, admin=True)
    if not token:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        # The API will refuse it; the console shows what it says.
        return Viewer(token, admin=False)
    scopes = str(claims.get("scope", "")).split()
    customer = claims.get("customer_id")
    customer_id = customer if isinstance(customer, int) and not isinstance(customer, bool) else None
    return Viewer(token, admin=ADMIN_SCOPE in scopes, customer_id=None if ADMIN_SCOPE in scopes else customer_id)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(cookie: str | None, field: object) -> bool:
    """The form's hidden field matches the session's cookie (double submit;
    the cookie is HttpOnly and SameSite=Strict, so no other site sets or reads it)."""
    if not cookie or not isinstance(field, str):
        return False
    return hmac.compare_digest(cookie.encode(), field.encode())
