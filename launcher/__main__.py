"""python -m launcher: Kafka (unless OMS_KAFKA_BOOTSTRAP names a cluster),
every service, and a banner once the front door serves. Ctrl-C stops all."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Mapping

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from launcher.mailsink import MailSink, show
from launcher.supervisor import ServiceSpec, Supervisor
from localkafka import KafkaCluster, from_env
from topology.config import EX_CONFIG, Config, load_or_exit
from topology.registry import SERVICES
from topology.security import as_admin, provision_service_users
from topology.service import configure_logging, create_topics_or_exit

log = logging.getLogger("launcher")


def service_specs(instances: int, credentials: Mapping[str, Mapping[str, str]] | None = None) -> list[ServiceSpec]:
    """Every process to run; credentials: each service's own Kafka user, by
    service name (the environment variables that log it in)."""
    specs = []
    for service in SERVICES:
        own = dict((credentials or {}).get(service.name, {}))
        for instance in range(instances):
            env = {"OMS_INSTANCE_ID": str(instance), **own}
            specs.append(ServiceSpec(f"{service.name}-{instance}", service.argv, env))
    return specs


def wait_serving(port: int, stop: threading.Event, timeout_s: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(f"localhost:{port}") as channel:
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
        supervisor = Supervisor(service_specs(settings.instances, credentials), env)
        supervisor.start()
        try:
            if wait_serving(settings.grpc_port, stop):
                print(
                    f"\nOMS is ready: gRPC at localhost:{settings.grpc_port}, Kafka at {kafka.bootstrap_servers}."
                    " Ctrl-C stops everything.\n",
                    flush=True,
                )
            while not stop.is_set():
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
