"""Settings of the order-routing processor: class defaults, then environment."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class RoutingSettings:
    # How long an order waits for a customer it does not know yet (the
    # customer may be upserted just after the order) before it is dead-lettered.
    customer_grace_ms: int = 5_000

    @classmethod
    def from_env(cls) -> RoutingSettings:
        raw = os.environ.get("OMS_CUSTOMER_GRACE_MS")
        return cls(customer_grace_ms=int(raw) if raw else cls.customer_grace_ms)
