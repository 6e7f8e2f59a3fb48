"""python -m launcher: Kafka (unless OMS_KAFKA_BOOTSTRAP names a cluster),
every service, and a banner once the front door serves. Ctrl-C stops all."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from launcher.mailsink import MailSink, show
from launcher.supervisor import ServiceSpec, Supervisor
from localkafka import KafkaCluster, from_env
from topology.config import EX_CONFIG, Config, load_or_exit
from topology.registry import SERVICES
from topology.service import configure_logging, create_topics

log = logging.getLogger("launcher")


def service_specs(instances: int) -> list[ServiceSpec]:
    specs = []
    for service in SERVICES:
        for instance in range(instances):
            specs.append(ServiceSpec(f"{service.name}-{instance}", service.argv, {"OMS_INSTANCE_ID": str(instance)}))
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


def restart_crashed_brokers(kafka: object, stop: threading.Event) -> None:
    """A broker node we started that died (kill -9, OOM) is started again on
    its data; the services reconnect by themselves. A cluster the user named
    (OMS_KAFKA_BOOTSTRAP) is theirs to supervise."""
    if not isinstance(kafka, KafkaCluster):
        return
    for node in kafka.nodes:
        if stop.is_set() or not node.has_crashed:
            continue
        log.error("Kafka node %d exited (status %s): restarting it on its data", node.node_id, node.returncode)
        try:
            kafka.start_node(node.node_id)
        except Exception:
            log.exception("Kafka node %d did not come back; trying again", node.node_id)
        else:
            log.info("Kafka node %d is back at %s", node.node_id, node.address)


def main() -> int:
    # A bad setting stops everything here, before any process starts.
    settings = load_or_exit()
    configure_logging("launcher", settings)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    kafka = from_env(fresh=False)
    kafka.start()
    status = 0
    try:
        settings = settings.model_copy(update={"kafka_bootstrap": kafka.bootstrap_servers})
        create_topics(settings)
        env = {**os.environ, "OMS_KAFKA_BOOTSTRAP": kafka.bootstrap_servers}
        sink = start_mail_sink(settings, env)
        supervisor = Supervisor(service_specs(settings.instances), env)
        supervisor.start()
        try:
            if wait_serving(settings.grpc_port, stop):
                print(
                    f"\nOMS is ready: gRPC at localhost:{settings.grpc_port}, Kafka at {kafka.bootstrap_servers}."
                    " Ctrl-C stops everything.\n",
                    flush=True,
                )
            while not stop.is_set():
                restart_crashed_brokers(kafka, stop)
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
