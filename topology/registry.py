"""The composition root of the stream services: every service and the
processors it runs, declared once.

A processor's name and whether it keeps state are attributes of its class;
here it gets its factory (from the settings). The changelog topics
(`STATEFUL_PROCESSORS`), the launcher's processes (`SERVICES`) and the
metrics port slots (`SLOTS`) all derive from this list. Adding a processor
means adding it here, not to the stream library.

Metrics ports: `OMS_METRICS_PORT` is a base (default 9400). A process
listens on base + 10 * instance + the slot of its kind (its place in
`SERVICES`), so with OMS_INSTANCES=N every process on one machine has a port
of its own: 9400 gateway-0, 9401 order-details-0, ..., 9410 gateway-1, and
so on. A base of 0 picks any free port.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aggregator.processor import AggregatorProcessor
from notifications.processor import EmailJoinProcessor
from routing.processor import OrderRoutingProcessor
from streams.metrics import PORTS_PER_INSTANCE, block_port
from streams.processor import Processor
from topology.config import Config
from topology.deadletters import DeadLetters
from topology.topics import Topics
from validators.processors import FraudProcessor, InventoryProcessor, OrderDetailsProcessor


@dataclass(frozen=True)
class ProcessorSpec:
    """A processor class and how to build it from the settings."""

    type: type[Processor]
    build: Callable[[Config], Processor]

    @property
    def name(self) -> str:
        return self.type.name

    @property
    def stateful(self) -> bool:
        return self.type.stateful


@dataclass(frozen=True)
class Service:
    """One kind of service process: `name` for the launcher's processes
    (`name-<instance>`), `kind` for its logs and metrics, the arguments of
    `python` that start it, and the processors it runs."""

    name: str
    kind: str
    argv: tuple[str, ...]
    processors: tuple[ProcessorSpec, ...] = ()


def _topics(settings: Config) -> Topics:
    return Topics(settings.namespace)


ORDER_DETAILS = ProcessorSpec(OrderDetailsProcessor, lambda s: OrderDetailsProcessor(_topics(s)))
FRAUD = ProcessorSpec(FraudProcessor, lambda s: FraudProcessor(_topics(s)))
INVENTORY = ProcessorSpec(InventoryProcessor, lambda s: InventoryProcessor(_topics(s)))
AGGREGATOR = ProcessorSpec(AggregatorProcessor, lambda s: AggregatorProcessor(_topics(s), s.validation_timeout_ms))
ROUTING = ProcessorSpec(
    OrderRoutingProcessor,
    lambda s: OrderRoutingProcessor(_topics(s), s.customer_grace_ms, DeadLetters(_topics(s).dead_letters)),
)
EMAIL_JOIN = ProcessorSpec(EmailJoinProcessor, lambda s: EmailJoinProcessor(_topics(s), s.payment_window_ms))

# `python -m validators <check>`: the checks of an order, each its own service.
CHECKS = {"order-details": ORDER_DETAILS, "fraud": FRAUD, "inventory": INVENTORY}

SERVICES = (
    Service("gateway", "gateway", ("-m", "gateway")),
    *(Service(check, spec.name, ("-m", "validators", check), (spec,)) for check, spec in CHECKS.items()),
    Service("aggregator", AGGREGATOR.name, ("-m", "aggregator"), (AGGREGATOR,)),
    Service("routing", ROUTING.name, ("-m", "routing"), (ROUTING,)),
    Service("notifications", "notifications", ("-m", "notifications"), (EMAIL_JOIN,)),
)

PROCESSORS = tuple(spec for service in SERVICES for spec in service.processors)

# Their changelog topics are created with the others.
STATEFUL_PROCESSORS = tuple(spec.name for spec in PROCESSORS if spec.stateful)

# The slot of each kind of service within a block of 10 ports per instance.
SLOTS = {service.kind: slot for slot, service in enumerate(SERVICES)}
assert len(SLOTS) <= PORTS_PER_INSTANCE


def metrics_port(base: int, service: str, instance_id: str) -> int:
    """The port of one service instance: base + 10 * instance + slot; 0 for
    any free port (base 0, an unknown kind or a non-numeric instance id)."""
    return block_port(base, SLOTS.get(service), instance_id)
