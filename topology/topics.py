"""Every topic of the platform, named once."""

from __future__ import annotations

from dataclasses import dataclass

from streams.topics import TopicSpec

# Dynamic routing writes each order to the topic named by its customer's level.
CUSTOMER_LEVELS = ("platinum", "gold", "silver", "bronze")


@dataclass(frozen=True)
class Topics:
    """Topic names, under an optional namespace prefix (tests use one each)."""

    namespace: str = ""

    def _n(self, name: str) -> str:
        return f"{self.namespace}{name}"

    @property
    def orders(self) -> str:
        return self._n("orders")

    @property
    def order_commands(self) -> str:
        """Cancel and ship requests (key: order id, co-partitioned with `orders`)."""
        return self._n("order-commands")

    @property
    def order_validations(self) -> str:
        return self._n("order-validations")

    @property
    def warehouse_inventory(self) -> str:
        return self._n("warehouse-inventory")

    @property
    def inventory_levels(self) -> str:
        return self._n("inventory-levels")

    @property
    def fraud_check_orders(self) -> str:
        return self._n("fraud-check-orders")

    @property
    def inventory_check_orders(self) -> str:
        return self._n("inventory-check-orders")

    @property
    def dead_letters(self) -> str:
        return self._n("dead-letters")

    @property
    def customers(self) -> str:
        return self._n("customers")

    @property
    def payments(self) -> str:
        return self._n("payments")

    @property
    def orders_by_customer(self) -> str:
        return self._n("orders-by-customer")

    @property
    def customer_orders(self) -> str:
        """Every order event re-keyed by customer id (partitioned as `customers`):
        the gateway's customer-keyed view of orders."""
        return self._n("customer-orders")

    @property
    def enriched_orders(self) -> str:
        return self._n("enriched-orders")

    @property
    def payments_by_order(self) -> str:
        return self._n("payments-by-order")

    @property
    def email_requests(self) -> str:
        return self._n("email-requests")

    def level(self, level: str) -> str:
        """The dynamic-routing topic of a customer level (platinum, gold, silver, bronze)."""
        return self._n(level)

    def changelog(self, processor_name: str) -> str:
        return self._n(f"{processor_name}-changelog")

    def group(self, processor_name: str) -> str:
        return self._n(processor_name)

    def all(self, stateful_processors: tuple[str, ...] = ()) -> list[TopicSpec]:
        specs = [
            TopicSpec(self.orders),
            TopicSpec(self.order_commands),
            TopicSpec(self.order_validations),
            TopicSpec(self.warehouse_inventory, compacted=True),
            TopicSpec(self.inventory_levels, compacted=True),
            TopicSpec(self.fraud_check_orders),
            TopicSpec(self.inventory_check_orders),
            TopicSpec(self.dead_letters),
            TopicSpec(self.customers, compacted=True),
            TopicSpec(self.payments),
            TopicSpec(self.orders_by_customer),
            TopicSpec(self.customer_orders),
            TopicSpec(self.enriched_orders),
            TopicSpec(self.payments_by_order),
            TopicSpec(self.email_requests),
            *(TopicSpec(self.level(level)) for level in CUSTOMER_LEVELS),
        ]
        specs += [TopicSpec(self.changelog(p), compacted=True) for p in stateful_processors]
        return specs
