"""python -m launcher: Kafka (unless OMS_KAFKA_BOOTSTRAP names a cluster),
every service, and a banner once the front door serves. Ctrl-C stops all."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.bootstrap import peer_channel_credentials
from launcher.mailsink import MailSink, show
from launcher.supervisor import ServiceSpec, Supervisor
from localkafka import KafkaCluster, from_env
from topology.config import EX_CONFIG, Config, load_or_exit
from topology.registry import metrics_port, services
from topology.security import as_admin, provision_service_users
from topology.service import configure_logging, create_topics_or_exit

log = logging.getLogger("launcher")


def service_specs(
    instances: int, layout: str, credentials: Mapping[str, Mapping[str, str]] | None = None
) -> list[ServiceSpec]:
    """Every process to run in this layout (OMS_LAYOUT); credentials: each
    service's own Kafka user, by service name (the environment variables
    that log it in)."""
    specs = []
    for service in services(layout):
        own = dict((credentials or {}).get(service.name, {}))
        for instance in range(instances):
            env = {"OMS_INSTANCE_ID": str(instance), **own}
            specs.append(ServiceSpec(f"{service.name}-{instance}", service.argv, env))
    return specs


def console_spec(settings: Config) -> ServiceSpec:
    """The web console (python -m console), a client of the front door; its
    live view reads every service instance's metrics endpoint."""
    host = "127.0.0.1" if settings.metrics_host in ("0.0.0.0", "::") else settings.metrics_host
    urls = [
        f"http://{host}:{metrics_port(settings.metrics_port, service.kind, str(instance))}"
        for service in services(settings.layout)
        for instance in range(settings.instances)
    ]
    if settings.metrics_port == 0:
        urls = []  # any free port each: not known here
    return ServiceSpec(
        "console", ("-m", "console"), {"OMS_CONSOLE_METRICS": settings.console_metrics or ",".join(urls)}
    )


def console_address(settings: Config) -> str:
    host = "localhost" if settings.console_host in ("127.0.0.1", "0.0.0.0", "::") else settings.console_host
    return f"{host}:{settings.console_port}"


def front_door_channel(settings: Config) -> grpc.Channel:
    """A channel to the front door as the gateway serves it: over TLS, with
    an instance's own certificate, when TLS is on (health needs no token)."""
    host = "localhost" if settings.grpc_host in ("0.0.0.0", "::", "127.0.0.1") else settings.grpc_host
    target = f"{host}:{settings.grpc_port}"
    credentials = peer_channel_credentials(settings)
    return grpc.insecure_channel(target) if credentials is None else grpc.secure_channel(target, credentials)


def wait_serving(settings: Config, stop: threading.Event, timeout_s: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout_s
    with front_door_channel(settings) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.RpcError:
                pass
            stop.wait(0.2)
    return False


def start_mail_sink(settings: Config, env: dict[str, str]) -> MailSink | None:
    """Without OMS_SMTP_HOST, confirmation emails go to a local sink that
    prints them; its address goes into the services' environment."""
    if settings.smtp_host:
        return None
    sink = MailSink(port=settings.smtp_port, on_message=show).start()
    env.update(OMS_SMTP_HOST=sink.host, OMS_SMTP_PORT=str(sink.port))
    log.info("no OMS_SMTP_HOST: emails go to the local mail sink on %s:%d and are printed here", sink.host, sink.port)
    return sink


class BrokerKeeper:
    """Starts again a broker node we started that died (kill -9, OOM), on its
    data, with a doubling delay while it keeps failing; the services
    reconnect by themselves. A cluster the user named (OMS_KAFKA_BOOTSTRAP)
    is theirs to supervise."""

    def __init__(self, kafka: object, clock: Callable[[], float] = time.monotonic) -> None:
        self._cluster = kafka if isinstance(kafka, KafkaCluster) else None
        self._clock = clock
        self._failures: dict[int, int] = {}
        self._next_try: dict[int, float] = {}

    def keep(self) -> None:
        if self._cluster is None:
            return
        for node in self._cluster.nodes:
            if not node.has_crashed or self._clock() < self._next_try.get(node.node_id, 0.0):
                continue
            log.error("Kafka node %d exited (status %s): starting it again on its data", node.node_id, node.returncode)
            try:
                self._cluster.start_node(node.node_id)
            except Exception:
                failures = self._failures.get(node.node_id, 0) + 1
                self._failures[node.node_id] = failures
                delay = min(60.0, 2.0**failures)
                self._next_try[node.node_id] = self._clock() + delay
                log.exception("Kafka node %d did not come back; trying again in %.0f s", node.node_id, delay)
            else:
                self._failures.pop(node.node_id, None)
                log.info("Kafka node %d is back at %s", node.node_id, node.address)


def main() -> int:
    # A bad setting stops everything here, before any process starts.
    settings = load_or_exit()
    configure_logging("launcher", settings)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    kafka = from_env(fresh=False, sasl=settings.kafka_sasl)
    kafka.start()
    status = 0
    try:
        settings = settings.model_copy(update={"kafka_bootstrap": kafka.bootstrap_servers})
        credentials = None
        if isinstance(kafka, KafkaCluster) and kafka.sasl:
            # We are the admin; every service gets a user of its own.
            settings = as_admin(settings, kafka.bootstrap_servers, kafka.client_properties)
            credentials = provision_service_users(settings)
            log.info(
                "Kafka serves SASL/SCRAM with ACLs: each service runs as its own user; the admin's client"
                " properties are in %s",
                kafka.admin_properties_path,
            )
        elif settings.kafka_sasl:
            log.warning("OMS_KAFKA_SASL applies to the local broker only: %s is used as configured", kafka)
        # Topics that would lose events are fixed on a broker we started; on a
        # user's cluster only when OMS_KAFKA_FIX_TOPIC_CONFIGS says so.
        create_topics_or_exit(settings, fix=not kafka.is_external or settings.kafka_fix_topic_configs)
        env = {**os.environ, "OMS_KAFKA_BOOTSTRAP": kafka.bootstrap_servers}
        sink = start_mail_sink(settings, env)
        supervisor = Supervisor(
            [*service_specs(settings.instances, settings.layout, credentials), console_spec(settings)], env
        )
        supervisor.start()
        brokers = BrokerKeeper(kafka)
        try:
            if wait_serving(settings, stop):
                print(
                    f"\nOMS is ready: gRPC at localhost:{settings.grpc_port}, the console at"
                    f" http://{console_address(settings)}, Kafka at {kafka.bootstrap_servers}."
                    " Ctrl-C stops everything.\n",
                    flush=True,
                )
            while not stop.is_set():
                brokers.keep()
                supervisor.supervise_once()
                if supervisor.misconfigured:
                    log.error(
                        "%s stopped on a configuration error: stopping everything", ", ".join(supervisor.misconfigured)
                    )
                    status = EX_CONFIG
                    break
                stop.wait(0.5)
        finally:
            log.info("stopping services")
            supervisor.stop()
            if sink is not None:
                sink.stop()
    finally:
        kafka.stop()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
