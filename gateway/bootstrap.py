"""Composition root of the gateway: the only place that picks concrete
classes. `bootstrap` wires the handlers (gateway/app) over an event log and
a read model, the servicers (gateway/api) over the handlers, and a gRPC
server around them; each port defaults to the real adapter (Kafka, LevelDB,
the view group's peers), and tests pass fakes that subclass the ports."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from gateway.adapters.backlog import KafkaWorkflowBacklog
from gateway.adapters.event_log import KafkaEventLog
from gateway.adapters.notifier import Notifier
from gateway.adapters.peers import Router
from gateway.adapters.projector import order_projector
from gateway.adapters.read_model import LevelDbReadModel
from gateway.adapters.tables import tables_projector
from gateway.adapters.view import View
from gateway.api.admission import Admission, LoopLag
from gateway.api.auth import Authenticate, TokenVerifier
from gateway.api.customers import CustomerService
from gateway.api.dead_letters import DeadLetterService
from gateway.api.errors import ErrorStatuses
from gateway.api.inventory import InventoryService
from gateway.api.orders import OrderCommandService, OrderQueryService
from gateway.api.payments import PaymentService
from gateway.api.routing import Routes
from gateway.app.handlers import App, build_app
from gateway.app.paging import Tokens
from gateway.app.ports import EventLog, ReadModel, WorkflowBacklog
from oms.customers.v1 import customers_pb2, customers_pb2_grpc
from oms.deadletter.v1 import dead_letter_service_pb2, dead_letter_service_pb2_grpc
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from oms.orders.v1 import command_service_pb2, command_service_pb2_grpc, query_service_pb2, query_service_pb2_grpc
from oms.payments.v1 import payments_pb2, payments_pb2_grpc
from streams.kafka import (
    BrokerProbe,
    GroupLag,
    GroupProgress,
    Publisher,
    ViewConsumer,
    admin_client,
    group_members,
    last_stable_offsets,
    partition_count,
)
from streams.metrics import Metrics, process_metrics
from topology.config import Config
from topology.grpc import GrpcMetricsInterceptor
from topology.metrics import AdmissionMetrics, OrderMetrics
from topology.topics import Topics

log = logging.getLogger(__name__)

# How long the cluster may not answer before the gateway says NOT_SERVING:
# longer than a leader election, shorter than a load balancer's patience.
UNREACHABLE_AFTER_S = 5.0

SERVICE_NAMES = (
    command_service_pb2.DESCRIPTOR.services_by_name["OrderCommandService"].full_name,
    query_service_pb2.DESCRIPTOR.services_by_name["OrderQueryService"].full_name,
    inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"].full_name,
    customers_pb2.DESCRIPTOR.services_by_name["CustomerService"].full_name,
    payments_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name,
    dead_letter_service_pb2.DESCRIPTOR.services_by_name["DeadLetterService"].full_name,
)


@dataclass
class Gateway:
    server: grpc.aio.Server
    port: int
    address: str
    health: health.aio.HealthServicer
    app: App
    router: Router
    # Whether the read model has caught up (then the services are SERVING),
    # and whether it has stopped following the log (then the gateway stops).
    ready: Callable[[], bool]
    failed: Callable[[], bool] = lambda: False
    # Whether the Kafka cluster answers: without it no write can be made,
    # so the gateway says NOT_SERVING and a load balancer takes it out.
    reachable: Callable[[], bool] = lambda: True
    # Run once the server has stopped, in order.
    closers: list[Callable[[], None]] = field(default_factory=list)
    # Tasks of its own on the event loop, cancelled when it stops.
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # What the health service says: True while SERVING.
    serving: bool = False

    async def keep_health(self, interval_s: float = 0.05) -> None:
        """SERVING once the read model has caught up, and while the cluster
        answers; NOT_SERVING before and while it does not. Polled rather than
        awaited in a thread, so that shutdown never waits on it."""
        caught_up = False
        while True:
            caught_up = caught_up or self.ready()
            should = caught_up and self.reachable()
            if should != self.serving:
                status = (
                    health_pb2.HealthCheckResponse.SERVING if should else health_pb2.HealthCheckResponse.NOT_SERVING
                )
                for name in ("", *SERVICE_NAMES):
                    await self.health.set(name, status)
                self.serving = should
                if should:
                    log.info("gateway serving on port %d", self.port)
                else:
                    log.warning("gateway NOT_SERVING: the Kafka cluster does not answer")
            await asyncio.sleep(interval_s)

    async def stop(self, grace_s: float = 2.0) -> None:
        self.serving = False
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(grace_s)
        for task in self.tasks:
            task.cancel()
        await self.router.close()
        for close in self.closers:
            close()


@dataclass
class _Projection:
    """The real read model and what runs it."""

    read_model: LevelDbReadModel
    notifier: Notifier
    start: Callable[[], None]
    stop: Callable[[], None]
    close: Callable[[], None]
    failed: Callable[[], bool]
    ready: Callable[[], bool]


def page_token_key(settings: Config) -> bytes:
    """OMS_PAGE_TOKEN_KEY, or the data directory's own key, made once (the
    instances of one data directory share it; a link makes the first one win)."""
    if settings.page_token_key is not None:
        return settings.page_token_key.get_secret_value().encode()
    path = settings.data_dir / "gateway" / "page-token.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"{path.name}.{os.getpid()}")
        draft.write_bytes(secrets.token_hex(32).encode())
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_bytes().strip()


# The routing processor's name (its consumer group in the separate layout)
# and the combined layout's runner: the gateway may not import routing/ nor
# the registry (import-linter); a unit test checks they agree.
ROUTING_PROCESSOR = "order-routing"
PIPELINE_RUNNER = "pipeline"
# The processors that decide each order (the checks and the aggregator),
# whose backlog on `orders` admits new orders in the separate layout;
# routing comes after the verdict. A unit test checks them too.
DECIDING_PROCESSORS = ("order-details-check", "fraud-check", "inventory-check", "validation-aggregator")
# How often the workflow's backlog is measured (each time a round trip for
# the ends of `orders` and one per group for its committed offsets).
BACKLOG_INTERVAL_S = 0.2


async def _kafka_workflow_backlog(settings: Config, topics: Topics) -> KafkaWorkflowBacklog:
    """The order workflow's backlog on `orders`: the pipeline's (layout
    combined), or the slowest of the deciding processors' (separate)."""
    groups = (PIPELINE_RUNNER,) if settings.layout == "combined" else DECIDING_PROCESSORS
    partitions = await asyncio.to_thread(partition_count, settings.kafka, topics.orders)
    admin = admin_client(settings.kafka)
    return KafkaWorkflowBacklog(
        [GroupLag(settings.kafka, topics.group(group)) for group in groups],
        [(topics.orders, partition) for partition in range(partitions)],
        partial(last_stable_offsets, admin, timeout_s=5.0),
        interval_s=BACKLOG_INTERVAL_S,
    ).start()


async def _leveldb_read_model(settings: Config, topics: Topics, address: str, metrics: Metrics) -> _Projection:
    """The view database, the order projector (the partitions of the view
    group assigned here) and the tables projector (every partition)."""
    member = topics.group(f"order-view-{settings.instance_id}")
    view_group = topics.group("order-view")
    notifier = Notifier(asyncio.get_running_loop())
    view = View(settings.data_dir / "views" / member)

    def consumer(**kwargs: object) -> ViewConsumer:
        return ViewConsumer(
            settings.kafka,
            view_group,
            group_instance_id=member,
            client_id=address,
            on_lag=lambda lags: metrics.set_lag("order-view", lags),
            **kwargs,  # type: ignore[arg-type]
        )

    projector = order_projector(
        consumer,
        view,
        topics,
        notifier.progress_threadsafe,
        on_order=OrderMetrics.of(metrics).observe_order,
        on_assigned=notifier.assigned_threadsafe,
    )
    tables = tables_projector(settings, view, notifier)
    # How far the routing processor (which re-keys orders by customer) has read `orders`.
    routing_runner = PIPELINE_RUNNER if settings.layout == "combined" else ROUTING_PROCESSOR
    routing_progress = GroupProgress(settings.kafka, topics.group(routing_runner))
    partitions = {
        topic: await asyncio.to_thread(partition_count, settings.kafka, topic)
        for topic in (topics.orders, topics.customers, topics.payments, topics.customer_orders, topics.dead_letters)
    }
    # Stock is routed by the same partition count as orders.
    partitions[topics.inventory_levels] = partitions[topics.orders]
    read_model = LevelDbReadModel(
        view,
        notifier,
        partitions,
        projector.end_offsets,
        projector.caught_up.is_set,
        lambda: projector.current,
        tables_healthy=lambda: not tables.failed.is_set(),
        orders_topic=topics.orders,
        rekeyed_through=routing_progress.reached,
    )

    def start() -> None:
        projector.start()
        tables.start()

    def stop() -> None:
        projector.stop()
        tables.stop()
        routing_progress.close()

    return _Projection(
        read_model,
        notifier,
        start,
        stop,
        view.close,
        failed=lambda: projector.failed.is_set() or tables.failed.is_set(),
        ready=projector.caught_up.is_set,
    )


async def bootstrap(
    settings: Config,
    port: int | None = None,
    metrics: Metrics | None = None,
    *,
    event_log: EventLog | None = None,
    read_model: ReadModel | None = None,
    router: Router | None = None,
    workflow_backlog: WorkflowBacklog | None = None,
) -> Gateway:
    """Starts the front door (port 0 picks a free one) over the given ports,
    or the real ones (and then their projectors).

    Every instance binds the same front-door port (SO_REUSEPORT, gRPC's
    default on Linux, lets the kernel spread connections over them) and a
    port of its own, which its peers use to forward calls to it.
    """
    topics = Topics(settings.namespace)
    metrics = metrics or process_metrics()
    # Run in order once the server has stopped: backlog, projectors, log, view.
    closers: list[Callable[[], None]] = []
    if workflow_backlog is None:
        kafka_backlog = await _kafka_workflow_backlog(settings, topics)
        closers.append(kafka_backlog.close)
        workflow_backlog = kafka_backlog
    loop_lag = LoopLag()
    admission_metrics = AdmissionMetrics.of(metrics)
    admission_metrics.workflow_backlog.set_function(lambda: _number(workflow_backlog.records_behind()))
    admission_metrics.loop_lag.set_function(lambda: loop_lag.seconds)
    # Outermost first: the metrics see the status that ErrorStatuses answers
    # with, a shed call's included.
    interceptors: list[grpc.aio.ServerInterceptor] = [GrpcMetricsInterceptor(metrics), ErrorStatuses()]
    if settings.auth:
        interceptors.append(Authenticate(TokenVerifier(settings)))
    interceptors.append(
        Admission(
            settings.max_calls,
            settings.max_watches,
            workflow=workflow_backlog,
            max_backlog=settings.max_workflow_backlog,
            loop_lag=lambda: loop_lag.seconds,
            max_loop_lag_ms=settings.max_loop_lag_ms,
            on_shed=admission_metrics.count_shed,
        )
    )
    server = grpc.aio.server(interceptors=interceptors, options=server_options(settings))
    front = f"{_host(settings.grpc_host)}:{settings.grpc_port if port is None else port}"
    own = f"{_host(settings.peer_host)}:{settings.own_peer_port}"
    if settings.tls:
        front_credentials, peer_credentials = server_credentials(settings)
        bound = server.add_secure_port(front, front_credentials)
        peer_port = server.add_secure_port(own, peer_credentials)
    else:
        bound = server.add_insecure_port(front)
        peer_port = server.add_insecure_port(own)
    address = f"{settings.advertised_host}:{peer_port}"

    projection = None
    if read_model is None:
        projection = await _leveldb_read_model(settings, topics, address, metrics)
        read_model = projection.read_model
        closers.append(projection.stop)
    if router is None:
        if projection is not None:
            notifier = projection.notifier
            admin = admin_client(settings.kafka)
            view_group = topics.group("order-view")
            router = Router(
                address,
                lambda tp: tp in notifier.held,
                lambda: group_members(settings.kafka, view_group, admin=admin),
                peer_channel_credentials(settings),
            )
        else:
            router = Router(address, read_model.holds, list, peer_channel_credentials(settings))
    probe = None
    if event_log is None:
        kafka_log = KafkaEventLog(Publisher(settings.kafka))
        closers.append(kafka_log.close)
        event_log = kafka_log
        probe = BrokerProbe(settings.kafka).start()
        closers.append(probe.close)
    if projection is not None:
        closers.append(projection.close)

    app = build_app(
        read_model,
        event_log,
        topics,
        placed=OrderMetrics.of(metrics).orders_placed.inc,
        tokens=Tokens(page_token_key(settings)),
        currency=settings.currency,
    )
    add_services(server, app, Routes(router))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    await server.start()
    if projection is not None:
        projection.start()
    gateway = Gateway(
        server,
        bound,
        address,
        health_servicer,
        app,
        router,
        ready=read_model.orders_ready if projection is None else projection.ready,
        failed=(lambda: False) if projection is None else projection.failed,
        reachable=(lambda: True) if probe is None else partial(probe.reachable, UNREACHABLE_AFTER_S),
        closers=closers,
        tasks=[asyncio.create_task(loop_lag.follow())],
    )
    metrics.readiness["gateway"] = lambda: gateway.serving
    return gateway


def _number(value: int | None) -> float:
    return float("nan") if value is None else float(value)


def add_services(server: grpc.aio.Server, app: App, routes: Routes) -> None:
    """The oms services, over the handlers."""
    command_service_pb2_grpc.add_OrderCommandServiceServicer_to_server(OrderCommandService(app.orders, routes), server)
    query_service_pb2_grpc.add_OrderQueryServiceServicer_to_server(OrderQueryService(app.orders, routes), server)
    inventory_pb2_grpc.add_InventoryServiceServicer_to_server(InventoryService(app.inventory, routes), server)
    customers_pb2_grpc.add_CustomerServiceServicer_to_server(CustomerService(app.customers), server)
    payments_pb2_grpc.add_PaymentServiceServicer_to_server(PaymentService(app.payments, routes, app.orders), server)
    dead_letter_service_pb2_grpc.add_DeadLetterServiceServicer_to_server(DeadLetterService(app.dead_letters), server)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def server_options(settings: Config) -> list[tuple[str, int]]:
    """Limits every connection lives with: request size, calls at once, and
    keepalive pings (a client pinging more often than every 10 s without
    calls is sent GOAWAY)."""
    return [
        ("grpc.max_receive_message_length", settings.max_request_bytes),
        ("grpc.max_concurrent_streams", settings.max_concurrent_streams),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_ping_strikes", 2),
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.max_connection_age_grace_ms", 30_000),
    ]


def server_credentials(settings: Config) -> tuple[grpc.ServerCredentials, grpc.ServerCredentials]:
    """TLS for the front door (a client certificate required with
    OMS_TLS_CLIENT_CA) and for the peer port (a certificate from the peer CA
    required when there is one: only gateway instances call there)."""
    assert settings.tls_cert is not None and settings.tls_key is not None
    pair = [(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())]
    client_ca = settings.tls_client_ca.read_bytes() if settings.tls_client_ca else None
    peer_ca = settings.peer_ca.read_bytes() if settings.peer_ca else None
    front = grpc.ssl_server_credentials(pair, root_certificates=client_ca, require_client_auth=client_ca is not None)
    peer = grpc.ssl_server_credentials(pair, root_certificates=peer_ca, require_client_auth=peer_ca is not None)
    return front, peer


def peer_channel_credentials(settings: Config) -> grpc.ChannelCredentials | None:
    """How this instance calls its peers: over TLS with its own certificate,
    verifying theirs against the peer CA; plaintext when TLS is off."""
    if not settings.tls:
        return None
    assert settings.tls_cert is not None and settings.tls_key is not None
    return grpc.ssl_channel_credentials(
        root_certificates=settings.peer_ca.read_bytes() if settings.peer_ca else None,
        private_key=settings.tls_key.read_bytes(),
        certificate_chain=settings.tls_cert.read_bytes(),
    )


async def run(settings: Config, stopping: Callable[[], asyncio.Event]) -> int:
    """Serves until stopped (exit status 0) or the read model fails (1)."""
    gateway = await bootstrap(settings)
    stop = stopping()
    ready = asyncio.create_task(gateway.keep_health())
    while not stop.is_set() and not gateway.failed():
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except TimeoutError:
            pass
    ready.cancel()
    await gateway.stop()
    return 1 if gateway.failed() else 0
