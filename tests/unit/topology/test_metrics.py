"""Metrics: the port scheme, the counters derived from outputs, the HTTP
endpoint with /ready, the gRPC interceptor and the runner's readiness."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import grpc
import pytest

from gateway.adapters.projector import project_batch
from oms.orders.v1 import events_pb2, order_pb2, query_service_pb2, query_service_pb2_grpc
from streams import logs, runner
from streams.kafka import consumer_lag
from streams.metrics import Metrics, serve_metrics, wsgi_app
from streams.records import Output, Record
from streams.runner import Hosted, ProcessorRunner
from streams.state import MemoryBackend
from tests.support.grpc_server import channel_to_server
from topology.deadletters import DeadLetters
from topology.grpc import GrpcMetricsInterceptor
from topology.metrics import OrderMetrics
from topology.registry import SLOTS, metrics_port
from topology.topics import Topics

TOPICS = Topics("ns.")


def value(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def validation(check: int, result: int, order_id: str = "o-1") -> Output:
    outcome = order_pb2.CheckOutcome(check_type=check, result=result)
    record = events_pb2.OrderValidation(order_id=order_id, outcome=outcome)
    return Output(TOPICS.order_validations, order_id.encode(), record.SerializeToString())


def order_event(
    kind: str, state: int, order_id: str = "o-1", placed_ms: int = 1_000, updated_ms: int = 1_000
) -> Output:
    order = order_pb2.Order(order_id=order_id, state=state, version=1 if kind == "placed" else 2)
    order.placed_at.FromMilliseconds(placed_ms)
    order.updated_at.FromMilliseconds(updated_ms)
    event = events_pb2.OrderEvent(order_id=order_id, version=order.version, order=order)
    getattr(event, kind).SetInParent()
    return Output(TOPICS.orders, order_id.encode(), event.SerializeToString())


# Ports


def test_every_service_instance_has_a_port_of_its_own() -> None:
    ports = [metrics_port(9400, service, str(instance)) for service in SLOTS for instance in range(12)]

    assert len(set(ports)) == len(ports)
    assert min(ports) == 9400
    assert metrics_port(9400, "gateway", "0") == 9400
    assert metrics_port(9400, "fraud-check", "0") == 9402
    assert metrics_port(9400, "validation-aggregator", "2") == 9424


def test_base_zero_unknown_kinds_and_odd_instance_ids_take_any_free_port() -> None:
    assert metrics_port(0, "gateway", "3") == 0
    assert metrics_port(9400, "something-new", "0") == 0
    assert metrics_port(9400, "gateway", "blue") == 0


# Counters derived from outputs


def test_validations_are_counted_by_check_and_result() -> None:
    metrics = Metrics()

    OrderMetrics.of(metrics).count_outputs(
        TOPICS,
        [
            validation(order_pb2.CHECK_TYPE_FRAUD, order_pb2.CHECK_RESULT_PASS),
            validation(order_pb2.CHECK_TYPE_FRAUD, order_pb2.CHECK_RESULT_PASS, "o-2"),
            validation(order_pb2.CHECK_TYPE_INVENTORY, order_pb2.CHECK_RESULT_FAIL),
        ],
    )

    assert value(metrics, "oms_validations_total", check="fraud", result="pass") == 2
    assert value(metrics, "oms_validations_total", check="inventory", result="fail") == 1
    assert value(metrics, "oms_validations_total", check="order_details", result="pass") == 0


def test_terminal_states_are_counted_and_placements_are_not() -> None:
    metrics = Metrics()

    OrderMetrics.of(metrics).count_outputs(
        TOPICS,
        [
            order_event("placed", order_pb2.ORDER_STATE_CREATED),
            order_event("validated", order_pb2.ORDER_STATE_VALIDATED),
            order_event("failed", order_pb2.ORDER_STATE_FAILED, "o-2"),
            order_event("failed", order_pb2.ORDER_STATE_FAILED, "o-3"),
        ],
    )

    assert value(metrics, "oms_orders_terminal_total", state="validated") == 1
    assert value(metrics, "oms_orders_terminal_total", state="failed") == 2
    assert value(metrics, "oms_orders_terminal_total", state="created") == 0


def test_other_topics_other_namespaces_and_undecodable_values_are_not_counted() -> None:
    metrics = Metrics()
    fraud_pass = validation(order_pb2.CHECK_TYPE_FRAUD, order_pb2.CHECK_RESULT_PASS)

    OrderMetrics.of(metrics).count_outputs(
        TOPICS,
        [
            Output("ns.fraud-check-orders", b"k", fraud_pass.value),
            Output("other.order-validations", b"k", fraud_pass.value),
            Output(TOPICS.order_validations, b"k", b"\xff\xff not protobuf"),
            Output(TOPICS.orders, b"k", None),
        ],
    )

    assert value(metrics, "oms_validations_total", check="fraud", result="pass") == 0


def test_a_committed_batch_counts_records_per_topic_and_the_transaction() -> None:
    metrics = Metrics()
    bound = metrics.runner("fraud-check", on_committed=OrderMetrics.of(metrics).counting(TOPICS))
    consumed = [Record(TOPICS.orders, 0, offset, b"k", b"v", 0) for offset in range(3)]
    produced = [
        validation(order_pb2.CHECK_TYPE_FRAUD, order_pb2.CHECK_RESULT_PASS),
        Output("ns.dead-letters", b"k", b"x"),
    ]

    bound.committed(consumed, produced, commit_s=0.004, batch_s=0.02)
    bound.aborted()

    assert value(metrics, "oms_records_processed_total", processor="fraud-check", topic="ns.orders") == 3
    assert value(metrics, "oms_records_produced_total", processor="fraud-check", topic="ns.order-validations") == 1
    assert value(metrics, "oms_records_produced_total", processor="fraud-check", topic="ns.dead-letters") == 1
    assert value(metrics, "oms_transactions_total", processor="fraud-check", outcome="committed") == 1
    assert value(metrics, "oms_transactions_total", processor="fraud-check", outcome="aborted") == 1
    assert value(metrics, "oms_transaction_commit_seconds_sum", processor="fraud-check") == pytest.approx(0.004)
    assert value(metrics, "oms_transaction_commit_seconds_bucket", processor="fraud-check", le="0.005") == 1
    assert value(metrics, "oms_batch_records_bucket", processor="fraud-check", le="2.0") == 0
    assert value(metrics, "oms_batch_records_bucket", processor="fraud-check", le="5.0") == 1
    assert value(metrics, "oms_validations_total", check="fraud", result="pass") == 1


def test_the_lag_of_partitions_a_consumer_no_longer_has_goes_away() -> None:
    metrics = Metrics()

    metrics.set_lag("fraud-check", {("ns.orders", 0): 5, ("ns.orders", 1): 0})
    metrics.set_lag("order-view", {("ns.orders", 0): 7})
    metrics.set_lag("fraud-check", {("ns.orders", 1): 3})

    assert (
        metrics.registry.get_sample_value(
            "oms_consumer_lag", {"consumer": "fraud-check", "topic": "ns.orders", "partition": "0"}
        )
        is None
    )
    assert value(metrics, "oms_consumer_lag", consumer="fraud-check", topic="ns.orders", partition="1") == 3
    assert value(metrics, "oms_consumer_lag", consumer="order-view", topic="ns.orders", partition="0") == 7


def test_the_lag_comes_from_librdkafka_statistics() -> None:
    stats = {
        "topics": {
            "ns.orders": {
                "partitions": {
                    "-1": {"fetch_state": "none", "consumer_lag": -1, "consumer_lag_stored": -1},
                    "0": {"fetch_state": "active", "consumer_lag": 40, "consumer_lag_stored": 12},
                    "1": {"fetch_state": "active", "consumer_lag": 9, "consumer_lag_stored": -1},
                    "2": {"fetch_state": "none", "consumer_lag": 3, "consumer_lag_stored": 3},
                    "3": {
                        "fetch_state": "offset-query",
                        "consumer_lag": -1,
                        "consumer_lag_stored": -1,
                        "next_offset": -1001,
                    },
                    # Nothing read nor committed yet: from where the fetcher stands.
                    "4": {
                        "fetch_state": "active",
                        "consumer_lag": -1,
                        "consumer_lag_stored": -1,
                        "ls_offset": 30,
                        "next_offset": 26,
                    },
                }
            }
        }
    }

    assert consumer_lag(json.loads(json.dumps(stats))) == {
        ("ns.orders", 0): 12,
        ("ns.orders", 1): 9,
        ("ns.orders", 4): 4,
    }
    assert consumer_lag({}) == {}


def test_the_view_observes_placed_to_terminal_latency() -> None:
    metrics = Metrics()

    orders = OrderMetrics.of(metrics)
    orders.observe_order(_order(order_pb2.ORDER_STATE_CREATED, 1_000, 1_000))
    orders.observe_order(_order(order_pb2.ORDER_STATE_VALIDATED, 1_000, 1_300))
    orders.observe_order(_order(order_pb2.ORDER_STATE_FAILED, 1_000, 3_000))

    assert value(metrics, "oms_order_latency_seconds_count", state="created") == 0
    assert value(metrics, "oms_order_latency_seconds_count", state="validated") == 1
    assert value(metrics, "oms_order_latency_seconds_sum", state="validated") == pytest.approx(0.3)
    assert value(metrics, "oms_order_latency_seconds_bucket", state="failed", le="1.0") == 0
    assert value(metrics, "oms_order_latency_seconds_bucket", state="failed", le="2.5") == 1


def _order(state: int, placed_ms: int, updated_ms: int) -> order_pb2.Order:
    order = order_pb2.Order(order_id="o-1", state=state)
    order.placed_at.FromMilliseconds(placed_ms)
    order.updated_at.FromMilliseconds(updated_ms)
    return order


def test_the_projector_hands_each_order_it_takes_to_the_observer() -> None:
    placed = order_event("placed", order_pb2.ORDER_STATE_CREATED)
    validated = order_event("validated", order_pb2.ORDER_STATE_VALIDATED)
    batch = [
        Record(TOPICS.orders, 0, offset, b"o-1", o.value, 0) for offset, o in enumerate((placed, validated, placed))
    ]
    seen: list[int] = []

    project_batch(batch, TOPICS, {}.get, lambda order: seen.append(order.state))

    # The replayed placement is older than the view and is skipped.
    assert seen == [order_pb2.ORDER_STATE_CREATED, order_pb2.ORDER_STATE_VALIDATED]


# The HTTP endpoint


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def served() -> Iterator[tuple[Metrics, str]]:
    metrics = Metrics()
    server = serve_metrics("gateway", 0, metrics=metrics, host="127.0.0.1")
    yield metrics, f"http://127.0.0.1:{server.port}"
    server.close()


def test_ready_answers_503_until_every_registered_part_is_ready(served: tuple[Metrics, str]) -> None:
    metrics, url = served
    assert get(url + "/ready") == (503, "not ready\n")  # nothing registered yet

    projector_ready = False
    metrics.readiness["gateway"] = lambda: projector_ready
    metrics.readiness["tables"] = lambda: True
    assert get(url + "/ready")[0] == 503
    assert "oms_ready 0.0" in get(url + "/metrics")[1]

    projector_ready = True
    assert get(url + "/ready") == (200, "ready\n")
    assert "oms_ready 1.0" in get(url + "/metrics")[1]


def test_metrics_are_served_in_the_prometheus_text_format(served: tuple[Metrics, str]) -> None:
    metrics, url = served
    OrderMetrics.of(metrics).orders_placed.inc(3)
    GrpcMetricsInterceptor(metrics)

    status, body = get(url + "/metrics")

    assert status == 200
    assert "oms_orders_placed_total 3.0" in body
    assert 'oms_service_info{instance="0",namespace="",service="gateway"} 1.0' in body
    assert "# TYPE oms_grpc_requests_total counter" in body


def test_a_taken_port_falls_back_to_any_free_one(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        base = taken.getsockname()[1] - SLOTS["fraud-check"]
        with caplog.at_level(logging.WARNING):
            server = serve_metrics(
                "fraud-check", metrics_port(base, "fraud-check", "0"), metrics=Metrics(), host="127.0.0.1"
            )
        try:
            assert server.port not in (0, base + SLOTS["fraud-check"])
            assert get(f"http://127.0.0.1:{server.port}/ready")[0] == 503
            assert "is not free" in caplog.text
        finally:
            server.close()


def test_the_wsgi_app_serves_metrics_on_any_other_path() -> None:
    metrics = Metrics()
    statuses: list[str] = []
    body = b"".join(
        wsgi_app(metrics)(
            {"PATH_INFO": "/metrics", "REQUEST_METHOD": "GET", "QUERY_STRING": ""}, lambda s, h: statuses.append(s)
        )
    )

    assert statuses == ["200 OK"] and b"oms_ready 0.0" in body


# The gRPC interceptor


class _Queries(query_service_pb2_grpc.OrderQueryServiceServicer):
    async def GetOrder(self, request, context):  # type: ignore[no-untyped-def]
        logging.getLogger("oms.test").info("looking")
        if request.order_id == "missing":
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such order")
        if request.order_id == "broken":
            raise RuntimeError("bug")
        return query_service_pb2.GetOrderResponse(order=order_pb2.Order(order_id=request.order_id))

    async def WatchOrder(self, request, context):  # type: ignore[no-untyped-def]
        for version in (1, 2):
            yield query_service_pb2.WatchOrderResponse(
                order=order_pb2.Order(order_id=request.order_id, version=version)
            )
        if request.order_id == "missing":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad")


def test_grpc_calls_are_counted_by_method_and_status_in_their_order_context() -> None:
    metrics = Metrics()
    lines = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    logs.configure("gateway", log_format="json", stream=lines)

    async def main() -> None:
        def register(server: grpc.aio.Server) -> None:
            query_service_pb2_grpc.add_OrderQueryServiceServicer_to_server(_Queries(), server)

        async with channel_to_server(register, [GrpcMetricsInterceptor(metrics)]) as channel:
            stub = query_service_pb2_grpc.OrderQueryServiceStub(channel)
            await stub.GetOrder(query_service_pb2.GetOrderRequest(order_id="o-1"), timeout=5)
            await stub.GetOrder(query_service_pb2.GetOrderRequest(order_id="o-2"), timeout=5)
            for order_id, code in (("missing", grpc.StatusCode.NOT_FOUND), ("broken", grpc.StatusCode.UNKNOWN)):
                with pytest.raises(grpc.aio.AioRpcError) as failed:
                    await stub.GetOrder(query_service_pb2.GetOrderRequest(order_id=order_id), timeout=5)
                assert failed.value.code() == code
            watched = [
                r.order.version
                async for r in stub.WatchOrder(query_service_pb2.WatchOrderRequest(order_id="o-1"), timeout=5)
            ]
            assert watched == [1, 2]
            with pytest.raises(grpc.aio.AioRpcError):
                async for _ in stub.WatchOrder(query_service_pb2.WatchOrderRequest(order_id="missing"), timeout=5):
                    pass

    try:
        asyncio.run(asyncio.wait_for(main(), 20))
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)

    get_order = "/oms.orders.v1.OrderQueryService/GetOrder"
    watch = "/oms.orders.v1.OrderQueryService/WatchOrder"
    assert value(metrics, "oms_grpc_requests_total", method=get_order, code="OK") == 2
    assert value(metrics, "oms_grpc_requests_total", method=get_order, code="NOT_FOUND") == 1
    assert value(metrics, "oms_grpc_requests_total", method=get_order, code="UNKNOWN") == 1
    assert value(metrics, "oms_grpc_requests_total", method=watch, code="OK") == 1
    assert value(metrics, "oms_grpc_requests_total", method=watch, code="INVALID_ARGUMENT") == 1
    assert value(metrics, "oms_grpc_request_duration_seconds_count", method=get_order) == 4
    looked = [json.loads(line) for line in lines.getvalue().splitlines() if '"looking"' in line]
    assert [entry.get("order_id") for entry in looked] == ["o-1", "o-2", "missing", "broken"]
    assert all(entry["service"] == "gateway" for entry in looked)


# The runner's readiness


class _Stateful:
    name = "counting"
    stateful = True
    inputs = ("ns.in",)

    def process(self, record, state):  # type: ignore[no-untyped-def]
        return ()

    def punctuate(self, now_ms, state):  # type: ignore[no-untyped-def]
        return ()


def test_a_runner_is_not_ready_before_its_partitions_nor_while_it_restores_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    metrics = Metrics()
    # The consumer and producer are made but never connect: no broker needed.
    processor_runner = ProcessorRunner(
        [Hosted(_Stateful(), "ns.counting-changelog", MemoryBackend())],  # type: ignore[arg-type]
        "127.0.0.1:1",
        group_id="g",
        transactional_id="t",
        dead_letter=DeadLetters("ns.dead-letters"),
        metrics=metrics.runner("counting"),
    )
    ready_while_restoring: list[bool] = []

    def changelog(bootstrap, topic, partition, start, extra=None):  # type: ignore[no-untyped-def]
        ready_while_restoring.append(metrics.ready())
        yield Record(topic, partition, 0, b"k", b"v", 0)
        ready_while_restoring.append(metrics.ready())

    monkeypatch.setattr(runner, "read_changelog", changelog)
    assert not metrics.ready()

    processor_runner._assigned({0})
    assert ready_while_restoring == [False, False]
    assert metrics.ready()

    processor_runner._assigned({1})  # a rebalance brings another partition
    assert ready_while_restoring == [False, False, False, False]
    assert metrics.ready()
    processor_runner._io.close()
