"""The composition root of the stream services: every service and the
processors it runs, declared once.

A processor's name and whether it keeps state are attributes of its class;
here it gets its factory (from the settings). The changelog topics
(`STATEFUL_PROCESSORS`), the launcher's processes (`SERVICES`) and the
metrics port slots (`topology.metrics.SLOTS`) all derive from this list.
Adding a processor means adding it here, not to the stream library.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aggregator.processor import AggregatorProcessor
from notifications.processor import EmailJoinProcessor
from notifications.settings import EmailSettings
from routing.processor import OrderRoutingProcessor
from routing.settings import RoutingSettings
from streams.processor import Processor
from streams.settings import Settings
from topology.deadletters import DeadLetters
from topology.topics import Topics
from validators.processors import FraudProcessor, InventoryProcessor, OrderDetailsProcessor


@dataclass(frozen=True)
class ProcessorSpec:
    """A processor class and how to build it from the settings."""

    type: type[Processor]
    build: Callable[[Settings], Processor]

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


def _topics(settings: Settings) -> Topics:
    return Topics(settings.namespace)


ORDER_DETAILS = ProcessorSpec(OrderDetailsProcessor, lambda s: OrderDetailsProcessor(_topics(s)))
FRAUD = ProcessorSpec(FraudProcessor, lambda s: FraudProcessor(_topics(s)))
INVENTORY = ProcessorSpec(InventoryProcessor, lambda s: InventoryProcessor(_topics(s)))
AGGREGATOR = ProcessorSpec(AggregatorProcessor, lambda s: AggregatorProcessor(_topics(s), s.validation_timeout_ms))
ROUTING = ProcessorSpec(
    OrderRoutingProcessor,
    lambda s: OrderRoutingProcessor(
        _topics(s), RoutingSettings.from_env().customer_grace_ms, DeadLetters(_topics(s).dead_letters)
    ),
)
EMAIL_JOIN = ProcessorSpec(
    EmailJoinProcessor, lambda s: EmailJoinProcessor(_topics(s), EmailSettings.from_env().payment_window_ms)
)

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
