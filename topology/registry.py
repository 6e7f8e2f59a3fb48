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

Kafka permissions: each kind of service runs as its own Kafka user (with
OMS_KAFKA_SASL=1) allowed only what `Service.permissions` lists: derived
from its processors' inputs and outputs (plus dead letters, changelog,
group and transactional-id prefix), and declared for what is no processor
(the gateway's writes and views, the email sender's outbox).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from aggregator.processor import AggregatorProcessor
from notifications.processor import EmailJoinProcessor
from routing.processor import OrderRoutingProcessor
from streams.kafka import Permissions
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
    # What it does on Kafka besides running its processors.
    declared: Callable[[Topics], Permissions] | None = None
    # The name of its runner (consumer group, transactional ids) when it runs
    # several processors; one alone runs under the processor's own name.
    hosts: str = ""

    @property
    def runner(self) -> str:
        return self.hosts or (self.processors[0].name if self.processors else "")

    def permissions(self, settings: Config) -> Permissions:
        """All it may do on Kafka: least privilege for its user."""
        topics = _topics(settings)
        permissions = self.declared(topics) if self.declared else Permissions()
        if self.processors:
            processors = [spec.build(settings) for spec in self.processors]
            permissions |= runner_permissions(self.runner, processors, topics)
            # The other layout's runners of its processors: how far they read
            # (topology.service refuses a namespace the other layout ran).
            others = frozenset(topics.group(runner) for runner in other_runners(self))
            permissions |= Permissions(observed_groups=others)
        return permissions

    def user(self, settings: Config) -> str:
        """Its Kafka user (under the namespace, as its topics are)."""
        return settings.topic(self.kind)


def runner_permissions(runner: str, processors: Sequence[Processor], topics: Topics) -> Permissions:
    """A runner reads its processors' inputs and writes their outputs and
    dead letters in transactions under its name, in its group; a stateful
    processor's changelog is also written, and read back to restore its store."""
    changelogs = tuple(topics.changelog(p.name) for p in processors if p.stateful)
    return Permissions(
        reads=frozenset((*(t for p in processors for t in p.inputs), *changelogs)),
        writes=frozenset((*(t for p in processors for t in p.outputs), topics.dead_letters, *changelogs)),
        groups=frozenset((topics.group(runner), *(f"{log}-restore" for log in changelogs))),
        transactional_id_prefixes=frozenset((topics.group(f"{runner}-"),)),
    )


# The email sender's consumer group (and its instances' prefix).
SENDER_NAME = "email-sender"


def _gateway(topics: Topics) -> Permissions:
    """Commands append to the event log, the order commands and the tables;
    the order view (a shared group, which also reads the customer-keyed
    order events) and the tables view (a group per instance, which also
    lists the dead letters) read back. A
    list by customer asks how far the order routing has re-keyed, and
    PlaceOrder how far behind the order workflow (checks and aggregator) is."""
    tables_and_logs = {topics.orders, topics.customers, topics.payments}
    return Permissions(
        reads=frozenset({*tables_and_logs, topics.inventory_levels, topics.customer_orders, topics.dead_letters}),
        writes=frozenset({*tables_and_logs, topics.warehouse_inventory, topics.order_commands}),
        groups=frozenset({topics.group("order-view")}),
        group_prefixes=frozenset({topics.group("tables-view-")}),
        # The workflow's runners: each processor's own (layout "separate") or the pipeline's.
        observed_groups=frozenset(topics.group(name) for name in (*(spec.name for spec in WORKFLOW), PIPELINE)),
    )


def _email_sender(topics: Topics) -> Permissions:
    """The sender reads the email requests, in its own group, and writes the
    dead letters of emails it gives up."""
    return Permissions(
        reads=frozenset({topics.email_requests}),
        writes=frozenset({topics.dead_letters}),
        groups=frozenset({topics.group(SENDER_NAME)}),
    )


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

# The order workflow's processors: each its own service (layout "separate"),
# or all in one (layout "combined": `python -m pipeline`), where the email
# join runs too (the orders routing enriches are handed to it) and the email
# service only sends.
WORKFLOW = (*CHECKS.values(), AGGREGATOR, ROUTING)
PIPELINE = "pipeline"
EMAIL = "notifications"

SERVICES = (
    Service("gateway", "gateway", ("-m", "gateway"), declared=_gateway),
    *(Service(check, spec.name, ("-m", "validators", check), (spec,)) for check, spec in CHECKS.items()),
    Service("aggregator", AGGREGATOR.name, ("-m", "aggregator"), (AGGREGATOR,)),
    Service("routing", ROUTING.name, ("-m", "routing"), (ROUTING,)),
    Service(EMAIL, EMAIL, ("-m", "notifications"), (EMAIL_JOIN,), declared=_email_sender),
    Service(PIPELINE, PIPELINE, ("-m", "pipeline"), (*WORKFLOW, EMAIL_JOIN), hosts=PIPELINE),
)

PROCESSORS = tuple(spec for spec in {spec.name: spec for s in SERVICES for spec in s.processors}.values())


def services(layout: str) -> tuple[Service, ...]:
    """The services a platform of this layout runs (OMS_LAYOUT)."""
    if layout == "combined":
        combined = [s for s in SERVICES if not s.processors or s.name in (PIPELINE, EMAIL)]
        return tuple(replace(s, processors=()) if s.name == EMAIL else s for s in combined)
    return tuple(s for s in SERVICES if s.name != PIPELINE)


def other_runners(of: Service) -> tuple[str, ...]:
    """The runners (consumer groups) that run any of a service's processors
    in the other layout."""
    mine = {spec.name for spec in of.processors}
    return tuple(
        s.runner
        for s in SERVICES
        if s.runner != of.runner
        and mine & {spec.name for spec in s.processors}
        and (s.name == PIPELINE) != (of.name == PIPELINE)
    )


def service(name: str, layout: str | None = None) -> Service:
    """A service as a layout runs it; without one, as declared above."""
    return next(s for s in (SERVICES if layout is None else services(layout)) if s.name == name)


# Their changelog topics are created with the others.
STATEFUL_PROCESSORS = tuple(spec.name for spec in PROCESSORS if spec.stateful)

# The slot of each kind of service within a block of 10 ports per instance.
SLOTS = {service.kind: slot for slot, service in enumerate(SERVICES)}
assert len(SLOTS) <= PORTS_PER_INSTANCE


def metrics_port(base: int, service: str, instance_id: str) -> int:
    """The port of one service instance: base + 10 * instance + slot; 0 for
    any free port (base 0, an unknown kind or a non-numeric instance id)."""
    return block_port(base, SLOTS.get(service), instance_id)
