"""Every topic of the platform, named once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType

from streams.topics import TopicSpec

# Dynamic routing writes each order to the topic named by its customer's level.
CUSTOMER_LEVELS = ("platinum", "gold", "silver", "bronze")


@dataclass(frozen=True)
class Topics:
    """Topic names, under an optional namespace prefix (tests use one each)."""

    namespace: str = ""

    def _n(self, name: str) -> str:
        return f"{self.namespace}{name}"

    @cached_property
    def orders(self) -> str:
        return self._n("orders")

    @cached_property
    def order_commands(self) -> str:
        """Cancel and ship requests (key: order id, co-partitioned with `orders`)."""
        return self._n("order-commands")

    @cached_property
    def order_validations(self) -> str:
        return self._n("order-validations")

    @cached_property
    def warehouse_inventory(self) -> str:
        return self._n("warehouse-inventory")

    @cached_property
    def inventory_levels(self) -> str:
        return self._n("inventory-levels")

    @cached_property
    def fraud_check_orders(self) -> str:
        return self._n("fraud-check-orders")

    @cached_property
    def inventory_check_orders(self) -> str:
        return self._n("inventory-check-orders")

    @cached_property
    def dead_letters(self) -> str:
        return self._n("dead-letters")

    @cached_property
    def customers(self) -> str:
        return self._n("customers")

    @cached_property
    def payments(self) -> str:
        return self._n("payments")

    @cached_property
    def orders_by_customer(self) -> str:
        return self._n("orders-by-customer")

    @cached_property
    def customer_orders(self) -> str:
        """Every order event re-keyed by customer id (partitioned as `customers`):
        the gateway's customer-keyed view of orders."""
        return self._n("customer-orders")

    @cached_property
    def enriched_orders(self) -> str:
        return self._n("enriched-orders")

    @cached_property
    def payments_by_order(self) -> str:
        return self._n("payments-by-order")

    @cached_property
    def email_requests(self) -> str:
        return self._n("email-requests")

    @cached_property
    def repartitions(self) -> frozenset[str]:
        """Re-keys that only the processor that writes them reads: where that
        processor's runner owns the partition, it need not write them at
        all (streams.handoff)."""
        return frozenset(
            {self.fraud_check_orders, self.inventory_check_orders, self.orders_by_customer, self.payments_by_order}
        )

    def level(self, level: str) -> str:
        """The dynamic-routing topic of a customer level (platinum, gold, silver, bronze)."""
        return self._n(level)

    def changelog(self, processor_name: str) -> str:
        return self._n(f"{processor_name}-changelog")

    def group(self, processor_name: str) -> str:
        return self._n(processor_name)

    def all(self, stateful_processors: tuple[str, ...] = ()) -> list[TopicSpec]:
        """Every topic, with the configs it must have. No event is ever
        deleted: each topic below is either an event log kept forever or a
        table kept compacted (the latest value of every key, forever)."""
        specs = [
            # The system of record: the gateway's view, every check, the
            # aggregator and routing are rebuilt from it, and an order id
            # is only known to be taken while its events are.
            _event_log(self.orders),
            # Cancel and ship requests: the aggregator, each order's one writer
            # after placement, reads them; one deleted before it is read is a
            # command acknowledged by nobody.
            _event_log(self.order_commands),
            # Payments are records too: the gateway's payments table and the
            # email join are rebuilt from them.
            _event_log(self.payments),
            # Each check's verdict: the aggregator's input, and the audit of
            # why an order was validated or failed. A verdict deleted before
            # an aggregator that was down read it is an order never decided.
            _event_log(self.order_validations),
            # Re-key (repartition) topics: a stage reads what the stage before
            # wrote. Deleted before it is read (the reader down for a week, a
            # backlog), the order is lost between two stages; kept, it is
            # also what a rebuilt stage replays.
            _event_log(self.fraud_check_orders),
            _event_log(self.inventory_check_orders),
            _event_log(self.orders_by_customer),
            # Every order event by customer: the gateway's customer view (its
            # lists and WatchOrders) is rebuilt from it.
            _event_log(self.customer_orders),
            _event_log(self.payments_by_order),
            # Outputs others rebuild from: the level topics (dynamic routing)
            # and enriched orders feed downstream readers and the email join.
            *(_event_log(self.level(level)) for level in CUSTOMER_LEVELS),
            _event_log(self.enriched_orders),
            # The email sender's outbox: a sender down past the retention
            # would never send the emails it had not sent yet.
            _event_log(self.email_requests),
            # What could not be processed, for an operator to read and replay:
            # never deleted before someone looked at it.
            _event_log(self.dead_letters),
            # Tables: the latest value per key is the truth, and compaction
            # never removes it (a time or size limit would).
            _table(self.customers),
            _table(self.warehouse_inventory),
            _table(self.inventory_levels),
        ]
        # Changelogs are the state stores' tables: a store lost is restored from them.
        specs += [_table(self.changelog(p)) for p in stateful_processors]
        return specs


# An event log: deleted by nothing, neither time nor size (and never
# compacted, which would keep only the last event of each order).
EVENT_LOG = MappingProxyType({"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"})
# A table: the latest value of each key, kept for ever by compaction.
TABLE = MappingProxyType({"cleanup.policy": "compact"})


def _event_log(name: str) -> TopicSpec:
    return TopicSpec(name, configs=EVENT_LOG)


def _table(name: str) -> TopicSpec:
    return TopicSpec(name, compacted=True, configs=TABLE)
