"""Prometheus metrics and readiness of one service process.

Each process has one `Metrics` (its own registry, made on first use by
`process_metrics`) and serves it over HTTP (`serve_metrics`): `/metrics` in
the Prometheus text format, `/ready` answering 200 once every part of the
process that registered a readiness check is ready, 503 before.

Ports: `OMS_METRICS_PORT` is a base (default 9400). A process listens on
base + 10 * instance + the slot of its kind (`SLOTS`), so with
OMS_INSTANCES=N every process on one machine has a port of its own:
9400 gateway-0, 9401 order-details-0, ..., 9410 gateway-1, and so on. A
base of 0 picks any free port, logged at start-up.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import grpc
from google.protobuf.message import DecodeError
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

from oms.orders.v1 import events_pb2, order_pb2
from streams.logs import order_context
from streams.records import Output, Record
from streams.topics import Topics

log = logging.getLogger(__name__)

# The slot of each kind of service within a block of 10 ports per instance.
SLOTS = {
    "gateway": 0,
    "order-details-check": 1,
    "fraud-check": 2,
    "inventory-check": 3,
    "validation-aggregator": 4,
    "order-routing": 5,
    "notifications": 6,
}
PORTS_PER_INSTANCE = 10

TERMINAL_STATES = frozenset(
    {
        order_pb2.ORDER_STATE_VALIDATED,
        order_pb2.ORDER_STATE_FAILED,
        order_pb2.ORDER_STATE_SHIPPED,
        order_pb2.ORDER_STATE_CANCELLED,
    }
)

_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_RECORDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)


def enum_label(enum: object, value: int, prefix: str) -> str:
    """CHECK_RESULT_PASS -> "pass"; an unknown number -> its digits."""
    try:
        name = enum.Name(value)  # type: ignore[attr-defined]
    except ValueError:
        return str(value)
    return name.removeprefix(prefix).lower()


def metrics_port(base: int, service: str, instance_id: str) -> int:
    """The port of one service instance: base + 10 * instance + slot; 0 for
    any free port (base 0, an unknown kind or a non-numeric instance id)."""
    if base == 0 or service not in SLOTS or not instance_id.isdigit():
        return 0
    return base + PORTS_PER_INSTANCE * int(instance_id) + SLOTS[service]


class Metrics:
    """Every metric of one process, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.readiness: dict[str, Callable[[], bool]] = {}
        self._lock = threading.Lock()
        self._lag_series: dict[str, set[tuple[str, int]]] = {}

        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(name, doc, labels, registry=self.registry)

        def gauge(name: str, doc: str, *labels: str) -> Gauge:
            return Gauge(name, doc, labels, registry=self.registry)

        def histogram(name: str, doc: str, buckets: Sequence[float], *labels: str) -> Histogram:
            return Histogram(name, doc, labels, buckets=buckets, registry=self.registry)

        self.info = gauge("oms_service_info", "This process: its service, instance and namespace", "service", "instance", "namespace")
        gauge("oms_ready", "1 once the process is ready (restored, caught up), else 0").set_function(
            lambda: 1.0 if self.ready() else 0.0
        )
        # Processors (streams/runner.py)
        self.records_processed = counter("oms_records_processed", "Input records in committed transactions", "processor", "topic")
        self.records_produced = counter(
            "oms_records_produced", "Output records in committed transactions (not changelogs)", "processor", "topic"
        )
        self.batch_records = histogram("oms_batch_records", "Input records per committed batch", _RECORDS, "processor")
        self.batch_seconds = histogram(
            "oms_batch_duration_seconds", "A committed batch, from processing to its committed transaction", _SECONDS, "processor"
        )
        self.commit_seconds = histogram(
            "oms_transaction_commit_seconds", "Committing a transaction (offsets and commit)", _SECONDS, "processor"
        )
        self.transactions = counter("oms_transactions", "Transactions by outcome (committed, aborted)", "processor", "outcome")
        self.consumer_lag = gauge(
            "oms_consumer_lag", "Records left to read up to the last stable offset", "consumer", "topic", "partition"
        )
        # The order workflow, counted from what is produced
        self.validations = counter("oms_validations", "Check outcomes produced, by check and result", "check", "result")
        self.terminal = counter("oms_orders_terminal", "Orders that reached a terminal state, by state", "state")
        # The gateway
        self.orders_placed = counter("oms_orders_placed", "Orders placed (OrderPlaced events written)")
        self.order_latency = histogram(
            "oms_order_latency_seconds", "From placed_at to the terminal updated_at, as the view applies it", _SECONDS, "state"
        )
        self.grpc_requests = counter("oms_grpc_requests", "gRPC calls handled, by method and status code", "method", "code")
        self.grpc_seconds = histogram("oms_grpc_request_duration_seconds", "gRPC call handling time", _SECONDS, "method")

    def ready(self) -> bool:
        """True once something registered and every registered part is ready."""
        checks = list(self.readiness.values())
        return bool(checks) and all(check() for check in checks)

    def set_lag(self, consumer: str, lags: Mapping[tuple[str, int], int]) -> None:
        """Replaces a consumer's lag series; partitions it no longer has go away."""
        with self._lock:
            for (topic, partition), lag in lags.items():
                self.consumer_lag.labels(consumer, topic, str(partition)).set(lag)
            for topic, partition in self._lag_series.get(consumer, set()) - set(lags):
                self.consumer_lag.remove(consumer, topic, str(partition))
            self._lag_series[consumer] = set(lags)

    def count_outputs(self, topics: Topics, outputs: Iterable[Output]) -> None:
        """Domain counters from committed outputs, wherever they are produced:
        check outcomes on `order-validations`, terminal events on `orders`."""
        for output in outputs:
            if not output.value:
                continue
            try:
                if output.topic == topics.order_validations:
                    outcome = events_pb2.OrderValidation.FromString(output.value).outcome
                    self.validations.labels(
                        enum_label(order_pb2.CheckType, outcome.check_type, "CHECK_TYPE_"),
                        enum_label(order_pb2.CheckResult, outcome.result, "CHECK_RESULT_"),
                    ).inc()
                elif output.topic == topics.orders:
                    event = events_pb2.OrderEvent.FromString(output.value)
                    if event.WhichOneof("kind") != "placed" and event.order.state in TERMINAL_STATES:
                        state = enum_label(order_pb2.OrderState, event.order.state, "ORDER_STATE_")
                        self.terminal.labels(state).inc()
                        log.debug("order %s", state, extra={"order_id": event.order_id})
            except DecodeError:
                continue

    def observe_order(self, order: order_pb2.Order) -> None:
        """An order the view applied: its placed -> terminal latency, if terminal."""
        if order.state in TERMINAL_STATES and order.HasField("placed_at") and order.HasField("updated_at"):
            seconds = (order.updated_at.ToNanoseconds() - order.placed_at.ToNanoseconds()) / 1e9
            self.order_latency.labels(enum_label(order_pb2.OrderState, order.state, "ORDER_STATE_")).observe(max(0.0, seconds))

    def runner(self, processor: str, topics: Topics | None = None) -> RunnerMetrics:
        return RunnerMetrics(self, processor, topics)


class RunnerMetrics:
    """The metrics of one ProcessorRunner, with its label values bound."""

    def __init__(self, metrics: Metrics, processor: str, topics: Topics | None) -> None:
        self.metrics = metrics
        self.processor = processor
        self._topics = topics
        self._batch_records = metrics.batch_records.labels(processor)
        self._batch_seconds = metrics.batch_seconds.labels(processor)
        self._commit_seconds = metrics.commit_seconds.labels(processor)
        self._committed = metrics.transactions.labels(processor, "committed")
        self._aborted = metrics.transactions.labels(processor, "aborted")

    def committed(self, records: Sequence[Record], outputs: Sequence[Output], commit_s: float, batch_s: float) -> None:
        self._committed.inc()
        self._commit_seconds.observe(commit_s)
        self._batch_seconds.observe(batch_s)
        if records:
            self._batch_records.observe(len(records))
        for topic, count in Tally(record.topic for record in records).items():
            self.metrics.records_processed.labels(self.processor, topic).inc(count)
        for topic, count in Tally(output.topic for output in outputs).items():
            self.metrics.records_produced.labels(self.processor, topic).inc(count)
        if self._topics is not None:
            self.metrics.count_outputs(self._topics, outputs)

    def aborted(self) -> None:
        self._aborted.inc()

    def lag(self, lags: Mapping[tuple[str, int], int]) -> None:
        self.metrics.set_lag(self.processor, lags)

    def readiness(self, check: Callable[[], bool]) -> None:
        self.metrics.readiness[self.processor] = check


_process_metrics: Metrics | None = None
_process_lock = threading.Lock()


def process_metrics() -> Metrics:
    """The metrics of this process, made on first use."""
    global _process_metrics
    with _process_lock:
        if _process_metrics is None:
            _process_metrics = Metrics()
        return _process_metrics


# The HTTP endpoint


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


def wsgi_app(metrics: Metrics) -> Callable[..., Iterable[bytes]]:
    """`/ready`: 200 or 503; anything else: the metrics."""
    exposition = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, object], start_response: Callable[..., object]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/ready":
            ready = metrics.ready()
            start_response("200 OK" if ready else "503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ready\n" if ready else b"not ready\n"]
        return exposition(environ, start_response)

    return app


@dataclass
class MetricsServer:
    port: int
    _server: _Server
    _thread: threading.Thread

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_metrics(
    service: str,
    base_port: int,
    instance_id: str = "0",
    namespace: str = "",
    metrics: Metrics | None = None,
    host: str = "0.0.0.0",
) -> MetricsServer:
    """Serves the process's metrics and readiness on its port (see the module
    docstring). If that port is taken, any free one is used, with a warning."""
    metrics = metrics or process_metrics()
    metrics.info.labels(service, instance_id, namespace).set(1)
    wanted = metrics_port(base_port, service, instance_id)
    app = wsgi_app(metrics)
    try:
        server = make_server(host, wanted, app, _Server, _QuietHandler)
    except OSError as exc:
        if wanted == 0:
            raise
        log.warning("metrics port %d is not free (%s); using any free port", wanted, exc)
        server = make_server(host, 0, app, _Server, _QuietHandler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    log.info("metrics on http://%s:%d/metrics, readiness on /ready", host, port)
    return MetricsServer(port, server, thread)


# gRPC


def _code_of(context: grpc.aio.ServicerContext, error: BaseException | None) -> grpc.StatusCode:
    """The status a call ends with: the code set (or aborted with), else OK,
    CANCELLED or UNKNOWN from how the handler ended."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if error is None:
        return grpc.StatusCode.OK
    if isinstance(error, (asyncio.CancelledError, GeneratorExit)) or context.cancelled():
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


_SERVER_FAULTS = frozenset({grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DATA_LOSS})


class GrpcMetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts every call by method and status code and times it; a call whose
    request has an `order_id` runs in that order's log context."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        # One finisher per method, made once: label lookups cost on every call.
        self._finishers: dict[str, Callable[[grpc.aio.ServicerContext, BaseException | None, float], None]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], object],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)  # type: ignore[misc]
        if handler is None:
            return handler
        method = details.method
        finish = self._finishers.get(method)
        if finish is None:
            finish = self._finishers[method] = self._finisher(method)
        if handler.unary_unary is not None:
            return handler._replace(unary_unary=_unary(handler.unary_unary, finish))
        if handler.unary_stream is not None:
            return handler._replace(unary_stream=_streaming(handler.unary_stream, finish))
        if handler.stream_unary is not None:
            return handler._replace(stream_unary=_unary(handler.stream_unary, finish))
        return handler._replace(stream_stream=_streaming(handler.stream_stream, finish))

    def _finisher(self, method: str) -> Callable[[grpc.aio.ServicerContext, BaseException | None, float], None]:
        requests = self._metrics.grpc_requests
        seconds = self._metrics.grpc_seconds.labels(method)
        by_code: dict[grpc.StatusCode, Counter] = {}

        def finish(context: grpc.aio.ServicerContext, error: BaseException | None, started: float) -> None:
            elapsed = time.perf_counter() - started
            code = _code_of(context, error)
            counter = by_code.get(code)
            if counter is None:
                counter = by_code[code] = requests.labels(method, code.name)
            counter.inc()
            seconds.observe(elapsed)
            if code in _SERVER_FAULTS:
                log.warning("%s ended with %s after %.1f ms: %s", method, code.name, elapsed * 1000, error or context.details())
            else:
                log.debug("%s ended with %s after %.1f ms", method, code.name, elapsed * 1000)

        return finish


def _order_of(request: object) -> str | None:
    order_id = getattr(request, "order_id", None)
    return order_id if isinstance(order_id, str) and order_id else None


def _unary(behavior: Callable[..., object], finish: Callable[..., None]) -> Callable[..., object]:
    async def wrapped(request: object, context: grpc.aio.ServicerContext) -> object:
        started = time.perf_counter()
        with order_context(_order_of(request)):
            try:
                response = await behavior(request, context)  # type: ignore[misc]
            except BaseException as error:
                finish(context, error, started)
                raise
            finish(context, None, started)
            return response

    return wrapped


def _streaming(behavior: Callable[..., object], finish: Callable[..., None]) -> Callable[..., object]:
    if not inspect.isasyncgenfunction(behavior):
        # A handler that writes with context.write() and returns.
        return _unary(behavior, finish)

    async def wrapped(request: object, context: grpc.aio.ServicerContext) -> object:
        started = time.perf_counter()
        with order_context(_order_of(request)):
            try:
                async for response in behavior(request, context):  # type: ignore[attr-defined]
                    yield response
            except BaseException as error:
                finish(context, error, started)
                raise
            finish(context, None, started)

    return wrapped
