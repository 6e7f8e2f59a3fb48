"""Who may do what: the caller of a call (`Principal`) and the pure rules the
handlers apply. Nothing here knows tokens or gRPC: the edge
(gateway/api/auth.py) verifies a bearer token and makes its Principal from
the claims with `Principal.of_claims`.

- `oms:admin` may call everything.
- `oms:customer` (with its `customer_id`) may place, read, watch, list and
  cancel its own orders (and watch their changes), pay its own orders, read
  and update its own customer record, and read stock. Anything else (setting
  stock, shipping, listing every customer's orders) is PermissionDenied.
- A customer asking for an order that is not its own is answered exactly as
  for an order that does not exist (NotFound), so that a denied read leaks
  nothing of the order, not even that it exists. Where the request itself
  names the customer (PlaceOrder, GetCustomer, UpsertCustomer), a call for
  another customer is PermissionDenied: the answer is the same whatever the
  platform holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.app.errors import PermissionDenied, Unauthenticated

ADMIN_SCOPE = "oms:admin"
CUSTOMER_SCOPE = "oms:customer"


@dataclass(frozen=True)
class Principal:
    subject: str
    admin: bool = False
    # The customer a customer principal acts for (None for an admin).
    customer_id: int | None = None

    @classmethod
    def of_claims(cls, claims: Mapping[str, object]) -> Principal:
        """The principal of a verified token's claims; Unauthenticated if
        they do not say who it is (no `sub`, no known scope, a customer
        scope without an integer `customer_id`)."""
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("the token has no subject (sub)")
        scope = claims.get("scope")
        scopes = set(scope.split()) if isinstance(scope, str) else set()
        if ADMIN_SCOPE in scopes:
            return cls(subject, admin=True)
        if CUSTOMER_SCOPE in scopes:
            customer_id = claims.get("customer_id")
            if not isinstance(customer_id, int) or isinstance(customer_id, bool) or customer_id <= 0:
                raise Unauthenticated(f"a token with scope {CUSTOMER_SCOPE} needs an integer customer_id")
            return cls(subject, customer_id=customer_id)
        raise Unauthenticated(f"the token's scope holds neither {ADMIN_SCOPE} nor {CUSTOMER_SCOPE}")

    def may_see(self, customer_id: int) -> bool:
        """Whether this principal may see what belongs to customer_id."""
        return self.admin or self.customer_id == customer_id


# Every call when authentication is off (OMS_AUTH_JWT_* unset): the platform
# is then as open as its network (README, Security).
UNAUTHENTICATED_ADMIN = Principal("anonymous", admin=True)


def require_admin(principal: Principal, action: str) -> None:
    if not principal.admin:
        raise PermissionDenied(f"{action} needs scope {ADMIN_SCOPE}")


def require_customer(principal: Principal, customer_id: int, action: str) -> None:
    """For a request that names the customer it acts for."""
    if not principal.may_see(customer_id):
        raise PermissionDenied(f"{action} is allowed only for the token's own customer")
