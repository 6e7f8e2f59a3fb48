"""Metrics, readiness and logs of the real services, as processes on the real broker."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from confluent_kafka import Producer
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from oms.orders.v1 import order_pb2
from orders import codec
from orders.domain import Order, OrderDetails
from tests.support.orders import eventually, final_state, place, set_stock, unique
from tests.support.platform import Platform
from topology.service import create_topics

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]
PROCESSORS = ("order-details-check", "fraud-check", "inventory-check", "validation-aggregator", "order-routing")
SERVICES = ("gateway", *PROCESSORS, "notifications")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def http_get(url: str) -> tuple[int, str]:
    """Status and body; 0 when nothing answers (yet)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def scrape(url: str) -> Samples:
    status, body = http_get(url)
    assert status == 200, f"{url} answered {status}"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def platform(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    # Every processor in its own service: each has its own metrics endpoint.
    env = {"OMS_LOG_FORMAT": "json", "OMS_LAYOUT": "separate"}
    running = Platform(bootstrap, tmp_path_factory.mktemp("observability"), env=env).start()
    yield running
    running.stop()


def test_every_service_becomes_ready_and_names_itself(platform: Platform) -> None:
    for service in SERVICES:
        eventually(
            lambda service=service: http_get(platform.metrics_url(service, path="/ready"))[0] == 200,
            what=f"{service} ready",
        )
        samples = scrape(platform.metrics_url(service))
        info = sample(samples, "oms_service_info", service=service, instance="0", namespace=platform.namespace)
        assert info == 1, f"{platform.metrics_url(service)} is not {service} of {platform.namespace}"
        assert sample(samples, "oms_ready") == 1


def test_counters_move_as_orders_are_placed_and_decided(platform: Platform) -> None:
    before = {service: scrape(platform.metrics_url(service)) for service in SERVICES}
    product = unique("JUMPERS")
    set_stock(platform, product, 1)

    good = place(platform, product, quantity=1).order.order_id
    short = place(platform, product, quantity=5).order.order_id

    assert final_state(platform, good).state == order_pb2.ORDER_STATE_VALIDATED
    assert final_state(platform, short).state == order_pb2.ORDER_STATE_FAILED

    def moved(service: str, name: str, **labels: str) -> float:
        return sample(scrape(platform.metrics_url(service)), name, **labels) - sample(before[service], name, **labels)

    place_order = "/oms.orders.v1.OrderCommandService/PlaceOrder"
    # Counted once the transaction that produced them commits, before the verdict is read.
    assert moved("gateway", "oms_orders_placed_total") == 2
    assert moved("gateway", "oms_grpc_requests_total", method=place_order, code="OK") == 2
    assert moved("inventory-check", "oms_validations_total", check="inventory", result="pass") == 1
    assert moved("inventory-check", "oms_validations_total", check="inventory", result="fail") == 1
    # A failed check decides the short order at once: the other checks may
    # answer it after its verdict.
    eventually(
        lambda: (
            moved("order-details-check", "oms_validations_total", check="order_details", result="pass") == 2
            and moved("fraud-check", "oms_validations_total", check="fraud", result="pass") == 2
        ),
        what="the other checks answered both orders",
    )
    assert moved("validation-aggregator", "oms_orders_terminal_total", state="validated") == 1
    assert moved("validation-aggregator", "oms_orders_terminal_total", state="failed") == 1
    orders = platform.namespace + "orders"
    for processor in ("order-details-check", "validation-aggregator"):
        assert moved(processor, "oms_transactions_total", processor=processor, outcome="committed") >= 1
        assert moved(processor, "oms_records_processed_total", processor=processor, topic=orders) >= 2
    # The view applies the verdicts after WatchOrder saw them: wait for it.
    eventually(
        lambda: (
            moved("gateway", "oms_order_latency_seconds_count", state="validated") == 1
            and moved("gateway", "oms_order_latency_seconds_count", state="failed") == 1
        ),
        what="placed -> terminal latency observed",
    )


def test_consumer_lag_is_reported_per_partition(platform: Platform) -> None:
    orders = platform.namespace + "orders"

    def lags(service: str, consumer: str) -> dict[str, float]:
        found = {}
        for (name, labels), value in scrape(platform.metrics_url(service)).items():
            labels_ = dict(labels)
            if name == "oms_consumer_lag" and labels_["consumer"] == consumer and labels_["topic"] == orders:
                found[labels_["partition"]] = value
        return found

    # librdkafka reports every few seconds; every partition of `orders` is
    # fetched by the one instance, and idle, so nothing is left to read.
    caught_up = {"0": 0.0, "1": 0.0, "2": 0.0}
    eventually(lambda: lags("fraud-check", "fraud-check") == caught_up, what="fraud-check lag")
    eventually(lambda: lags("gateway", "order-view") == caught_up, what="view lag")


def test_a_processor_logs_json_lines_and_serves_metrics_on_any_free_port(bootstrap: str, tmp_path: Path) -> None:
    namespace = f"{unique('t')}."
    env = {
        **os.environ,
        "OMS_KAFKA_BOOTSTRAP": bootstrap,
        "OMS_NAMESPACE": namespace,
        "OMS_DATA_DIR": str(tmp_path),
        "OMS_LOG_FORMAT": "json",
        "OMS_METRICS_PORT": "0",
        "OMS_INSTANCE_ID": "3",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "validators", "order-details"], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True).start()  # type: ignore[union-attr]
    entries: list[dict[str, object]] = []

    def logged(fragment: str) -> dict[str, object] | None:
        while not lines.empty():
            entries.append(json.loads(lines.get()))  # every line is one JSON object
        return next((e for e in entries if fragment in str(e["message"])), None)

    try:
        started = eventually(lambda: logged("metrics on http://"), timeout_s=30, what="the metrics address logged")
        port = int(str(started["message"]).split(":")[2].split("/")[0])  # type: ignore[index]
        assert port != 0
        eventually(lambda: http_get(f"http://127.0.0.1:{port}/ready")[0] == 200, timeout_s=60, what="ready")
        eventually(lambda: logged("owns partitions"), what="the assignment logged")
        assert all((e["service"], e["instance"]) == ("order-details-check", "3") for e in entries)
        assert {"ts", "level", "logger", "message"} <= set(entries[0])
    finally:
        process.terminate()
        process.wait(timeout=20)


def _backlog(bootstrap: str, topic: str, count: int) -> None:
    """Writes `count` placed orders straight to the topic."""
    order = Order.place(OrderDetails("template", 5, "JUMPERS", 1, 10.0))
    (template,) = codec.events_to_pb(order, order.collect_events())
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "enable.idempotence": True})
    for n in range(count):
        template.order_id = template.order.order_id = f"backlog-{n}"
        producer.produce(topic, template.SerializeToString(), template.order_id.encode())
        if n % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0


def test_the_gateway_is_not_serving_until_its_view_caught_up(bootstrap: str, tmp_path: Path) -> None:
    gateway = Platform(bootstrap, tmp_path, services=["gateway-0"])
    create_topics(gateway.settings)
    _backlog(bootstrap, gateway.namespace + "orders", 50_000)
    fast_reconnect = [
        ("grpc.initial_reconnect_backoff_ms", 50),
        ("grpc.min_reconnect_backoff_ms", 50),
        ("grpc.max_reconnect_backoff_ms", 100),
    ]
    statuses: list[str] = []
    readiness: list[int] = []
    with grpc.insecure_channel(f"localhost:{gateway.port}", options=fast_reconnect) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        gateway.supervisor.start()
        try:
            deadline = time.monotonic() + 90
            while not statuses or statuses[-1] != "SERVING":
                assert time.monotonic() < deadline, f"never SERVING: {statuses[-5:]}"
                readiness.append(http_get(gateway.metrics_url("gateway", path="/ready"))[0])
                try:
                    reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    statuses.append(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
                except grpc.RpcError as error:
                    statuses.append(error.code().name)
                time.sleep(0.02)
            assert "NOT_SERVING" in statuses, f"went straight to SERVING: {statuses}"
            assert statuses.index("NOT_SERVING") < statuses.index("SERVING")
            assert 503 in readiness
            # Once serving it says so on /ready too, and stays serving.
            eventually(lambda: http_get(gateway.metrics_url("gateway", path="/ready"))[0] == 200, what="gateway /ready")
            reply = health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            view = scrape(gateway.metrics_url("gateway"))
            assert sample(view, "oms_ready") == 1
        finally:
            gateway.stop()
