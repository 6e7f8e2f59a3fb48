"""The platform's services as real processes, for tests that go through the
public gRPC API. Each Platform has its own topic namespace, data directory
and port, so tests never see each other's records."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from launcher.__main__ import service_specs
from launcher.supervisor import Supervisor
from oms.customers.v1 import customers_pb2_grpc
from oms.deadletter.v1 import dead_letter_service_pb2_grpc
from oms.inventory.v1 import inventory_pb2_grpc
from oms.orders.v1 import command_service_pb2_grpc, query_service_pb2_grpc
from oms.payments.v1 import payments_pb2_grpc
from streams.metrics import PORTS_PER_INSTANCE
from tests.support.ports import free_port_block
from topology import registry
from topology.config import Config
from topology.registry import metrics_port
from topology.security import as_admin, provision_service_users
from topology.service import create_topics


class Platform:
    def __init__(
        self,
        bootstrap: str,
        data_dir: Path,
        services: Iterable[str] | None = None,
        env: dict[str, str] | None = None,
        partitions: int = 3,
        instances: int = 1,
        credentials: grpc.ChannelCredentials | None = None,
        sasl: bool = False,
        admin: Mapping[str, str] | None = None,
    ) -> None:
        """`credentials`: how the test's own channels reach a platform with
        TLS on (OMS_TLS_* in env): TLS, with a client certificate for the
        peer ports the readiness checks use, and a token if auth is on.
        `sasl`: the broker serves SASL/SCRAM with ACLs; the platform then
        acts as the launcher does: topics are made as the admin (whose client
        properties `admin` holds) and every kind of service runs as its own
        user, with its own credentials and nothing more."""
        self.namespace = f"t{uuid.uuid4().hex[:10]}."
        # The front door, then each gateway instance's own (peer) port.
        self.port = free_port_block(1 + instances)
        self.bootstrap = bootstrap
        self.env = {
            **os.environ,
            "OMS_KAFKA_BOOTSTRAP": bootstrap,
            "OMS_NAMESPACE": self.namespace,
            "OMS_DATA_DIR": str(data_dir),
            "OMS_GRPC_PORT": str(self.port),
            "OMS_PARTITIONS": str(partitions),
            "OMS_COMMIT_INTERVAL_MS": "10",
            # Metrics ports of their own: base + 10 * instance + the kind's slot.
            "OMS_METRICS_PORT": str(free_port_block(PORTS_PER_INSTANCE * instances)),
            **(env or {}),
        }
        # The services' own settings: topics the test creates must match what
        # they would have created (replication factor included).
        self.settings = Config.load(self.env)
        users = None
        if sasl:
            if admin is None:
                raise ValueError("sasl=True needs the admin's client properties")
            self.settings = as_admin(self.settings, bootstrap, admin)
            users = provision_service_users(self.settings)
        # Each service kind's Kafka user (its environment), with sasl.
        self.kafka_users = users or {}
        specs = service_specs(instances, self.settings.layout, users)
        if services is not None:
            wanted = set(services)
            unknown = wanted - {s.name for s in specs}
            if unknown:
                raise ValueError(f"no {sorted(unknown)} in the {self.settings.layout} layout (OMS_LAYOUT)")
            specs = [s for s in specs if s.name in wanted]
        self.supervisor = Supervisor(specs, self.env)
        self.gateways = [i for i in range(instances) if f"gateway-{i}" in {s.name for s in specs}]
        self.credentials = credentials
        self.channel = self.connect(f"localhost:{self.port}")
        self.commands = command_service_pb2_grpc.OrderCommandServiceStub(self.channel)
        self.queries = query_service_pb2_grpc.OrderQueryServiceStub(self.channel)
        self.inventory = inventory_pb2_grpc.InventoryServiceStub(self.channel)
        self.customers = customers_pb2_grpc.CustomerServiceStub(self.channel)
        self.payments = payments_pb2_grpc.PaymentServiceStub(self.channel)
        self.dead_letters = dead_letter_service_pb2_grpc.DeadLetterServiceStub(self.channel)

    def start(self, timeout_s: float = 60.0) -> Platform:
        create_topics(self.settings)
        self.supervisor.start()
        # Like `make run`: whatever dies is restarted, whatever the test is doing.
        self.supervisor.supervise_in_background()
        self.wait_serving(timeout_s)
        return self

    def wait_serving(self, timeout_s: float = 60.0) -> None:
        """Returns once every gateway instance serves on its own port: each
        has then taken its share of the view, so no partition moves between
        gateways under a test's first calls."""
        deadline = time.monotonic() + timeout_s
        for instance in self.gateways:
            port = self.port + 1 + instance  # OMS_PEER_PORT's default: the front door's + 1 + instance
            with self.connect(f"localhost:{port}") as channel:
                health = health_pb2_grpc.HealthStub(channel)
                while not self._serving(health):
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"gateway instance {instance} on port {port} did not serve within {timeout_s}s"
                        )
                    self.supervisor.supervise_once()
                    time.sleep(0.1)

    def connect(self, target: str) -> grpc.Channel:
        if self.credentials is None:
            return grpc.insecure_channel(target)
        return grpc.secure_channel(target, self.credentials)

    @staticmethod
    def _serving(health: health_pb2_grpc.HealthStub) -> bool:
        try:
            return (
                health.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                == health_pb2.HealthCheckResponse.SERVING
            )
        except grpc.RpcError:
            return False

    def metrics_url(self, service: str, instance: int = 0, path: str = "/metrics") -> str:
        """Where a service instance serves its metrics (service: "gateway",
        "fraud-check", ...: the names of topology.registry.SLOTS)."""
        port = metrics_port(int(self.env["OMS_METRICS_PORT"]), service, str(instance))
        return f"http://127.0.0.1:{port}{path}"

    def process_of(self, service: str, instance: int = 0) -> str:
        """The process that runs a service ("fraud", "aggregator", ...) in
        this platform's layout: its own, or the pipeline that hosts it."""
        hosted = {spec.name for spec in registry.service(service).processors}
        if self.settings.layout == "combined" and hosted <= {spec.name for spec in registry.WORKFLOW}:
            service = registry.PIPELINE
        return f"{service}-{instance}"

    def kill(self, name: str) -> None:
        """kill -9 one service; `supervise()` brings it back."""
        os.kill(self.supervisor.pids()[name], signal.SIGKILL)

    def supervise(self) -> None:
        self.supervisor.supervise_once()

    def stop(self) -> None:
        self.channel.close()
        self.supervisor.stop()
