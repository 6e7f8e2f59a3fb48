"""Composition root of the gateway: the front door, its view and projector."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from gateway.admission import CallLimit
from gateway.errors import RequestErrors
from gateway.notifier import Notifier
from gateway.projector import Projector, order_projector
from gateway.read_model import ReadModel
from gateway.forwarding import Router
from gateway.services import InventoryService, OrderCommandService, OrderQueryService
from gateway.customers import CustomerService
from gateway.payments import PaymentService
from gateway.tables import Tables, build_tables
from oms.customers.v1 import customers_pb2, customers_pb2_grpc
from oms.payments.v1 import payments_pb2, payments_pb2_grpc
from gateway.view import View
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from oms.orders.v1 import command_service_pb2, command_service_pb2_grpc, query_service_pb2, query_service_pb2_grpc
from streams.kafka import Publisher, ViewConsumer, admin_client, group_members, partition_count
from streams.metrics import Metrics, process_metrics
from streams.settings import Settings
from topology.grpc import GrpcMetricsInterceptor
from topology.metrics import OrderMetrics
from topology.topics import Topics

log = logging.getLogger(__name__)

SERVICE_NAMES = (
    command_service_pb2.DESCRIPTOR.services_by_name["OrderCommandService"].full_name,
    query_service_pb2.DESCRIPTOR.services_by_name["OrderQueryService"].full_name,
    inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"].full_name,
    customers_pb2.DESCRIPTOR.services_by_name["CustomerService"].full_name,
    payments_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name,
)


@dataclass
class Gateway:
    server: grpc.aio.Server
    port: int
    address: str
    health: health.aio.HealthServicer
    projector: Projector
    publisher: Publisher
    view: View
    notifier: Notifier
    router: Router
    tables: Tables | None = None
    # What the health service says: True from SERVING until stopping.
    serving: bool = False

    async def serve_when_caught_up(self) -> None:
        # Polled rather than awaited in a thread, so that shutdown never waits on it.
        while not self.projector.caught_up.is_set():
            await asyncio.sleep(0.05)
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self.serving = True
        log.info("gateway serving on port %d", self.port)

    async def stop(self, grace_s: float = 2.0) -> None:
        self.serving = False
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(grace_s)
        await self.router.close()
        self.projector.stop()
        if self.tables is not None:
            self.tables.projector.stop()
        self.publisher.close()
        self.view.close()


async def start_gateway(settings: Settings, port: int | None = None, metrics: Metrics | None = None) -> Gateway:
    """Starts the front door (port 0 picks a free one) and its projector.

    Every instance binds the same front-door port (SO_REUSEPORT, gRPC's
    default on Linux, lets the kernel spread connections over them) and a
    port of its own, which its peers use to forward calls to it.
    """
    topics = Topics(settings.namespace)
    bootstrap = settings.bootstrap_servers
    member = topics.group(f"order-view-{settings.instance_id}")
    view_group = topics.group("order-view")
    metrics = metrics or process_metrics()
    order_metrics = OrderMetrics.of(metrics)
    # Outermost first: the metrics see the status that RequestErrors answers
    # with, a shed call's included.
    server = grpc.aio.server(
        interceptors=[GrpcMetricsInterceptor(metrics), RequestErrors(), CallLimit(settings.max_calls)]
    )
    bound = server.add_insecure_port(f"[::]:{settings.grpc_port if port is None else port}")
    peer_port = server.add_insecure_port(f"[::]:{settings.peer_port}")
    address = f"{settings.advertised_host}:{peer_port}"

    notifier = Notifier(asyncio.get_running_loop())
    view = View(settings.data_dir / "views" / member)

    def consumer(**kwargs: object) -> ViewConsumer:
        return ViewConsumer(
            bootstrap,
            view_group,
            group_instance_id=member,
            client_id=address,
            extra=settings.extra_kafka,
            on_lag=lambda lags: metrics.set_lag("order-view", lags),
            **kwargs,  # type: ignore[arg-type]
        )

    projector = order_projector(
        consumer, view, topics, notifier.progress_threadsafe,
        on_order=order_metrics.observe_order, on_assigned=notifier.assigned_threadsafe
    )
    publisher = Publisher(bootstrap, settings.extra_kafka)
    partitions = await asyncio.to_thread(partition_count, bootstrap, topics.orders)
    reads = ReadModel(
        view,
        notifier,
        topics,
        partitions,
        projector.end_offsets,
        projector.caught_up.is_set,
        lambda: projector.current,
    )
    admin = admin_client(bootstrap, settings.extra_kafka)
    router = Router(
        address, partitions, lambda: notifier.held, lambda: group_members(bootstrap, view_group, admin=admin)
    )
    command_service_pb2_grpc.add_OrderCommandServiceServicer_to_server(
        OrderCommandService(reads, publisher, router, placed=order_metrics.orders_placed.inc), server
    )
    query_service_pb2_grpc.add_OrderQueryServiceServicer_to_server(OrderQueryService(reads, router), server)
    inventory_pb2_grpc.add_InventoryServiceServicer_to_server(InventoryService(reads, publisher, router), server)
    tables = await build_tables(settings, view, notifier)
    customers_pb2_grpc.add_CustomerServiceServicer_to_server(CustomerService(tables, publisher), server)
    payments_pb2_grpc.add_PaymentServiceServicer_to_server(PaymentService(tables, publisher, router), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    await server.start()
    projector.start()
    tables.projector.start()
    gateway = Gateway(server, bound, address, health_servicer, projector, publisher, view, notifier, router, tables)
    metrics.readiness["gateway"] = lambda: gateway.serving
    return gateway


async def run(settings: Settings, stopping: Callable[[], asyncio.Event]) -> int:
    """Serves until stopped (exit status 0) or the projector fails (1)."""
    gateway = await start_gateway(settings)
    stop = stopping()
    ready = asyncio.create_task(gateway.serve_when_caught_up())
    while not stop.is_set() and not gateway.projector.failed.is_set() and not _tables_failed(gateway):
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except TimeoutError:
            pass
    ready.cancel()
    await gateway.stop()
    return 1 if gateway.projector.failed.is_set() or _tables_failed(gateway) else 0


def _tables_failed(gateway: Gateway) -> bool:
    return gateway.tables is not None and gateway.tables.projector.failed.is_set()
