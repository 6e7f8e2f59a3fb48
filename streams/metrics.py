"""Prometheus metrics and readiness of one service process.

Each process has one `Metrics` (its own registry, made on first use by
`process_metrics`) and serves it over HTTP (`serve_metrics`): `/metrics` in
the Prometheus text format, `/ready` answering 200 once every part of the
process that registered a readiness check is ready, 503 before.

This module holds what any stream application measures: its runners'
batches and transactions, consumer lag and readiness. The application adds
its own metrics to the same registry (`Metrics.extension`) and counts its
committed outputs through the runner's `on_committed` hook.

Ports: a process listens on `block_port(base, slot, instance)`: base +
10 * instance + the slot of its kind, so that every process on one machine
has a port of its own; the application numbers its kinds. A base of 0
picks any free port, logged at start-up.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import TypeVar
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

from streams.records import Output, Record

log = logging.getLogger(__name__)

PORTS_PER_INSTANCE = 10

T = TypeVar("T")

SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_RECORDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)


def block_port(base: int, slot: int | None, instance_id: str) -> int:
    """The port of one service instance: base + 10 * instance + slot; 0 for
    any free port (base 0, no slot or a non-numeric instance id)."""
    if base == 0 or slot is None or not instance_id.isdigit():
        return 0
    return base + PORTS_PER_INSTANCE * int(instance_id) + slot


class Metrics:
    """Every metric of one process, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.readiness: dict[str, Callable[[], bool]] = {}
        self._lock = threading.Lock()
        self._lag_series: dict[str, set[tuple[str, int]]] = {}

        self._extensions: dict[str, object] = {}
        counter, gauge, histogram = self.counter, self.gauge, self.histogram
        self.info = gauge(
            "oms_service_info", "This process: its service, instance and namespace", "service", "instance", "namespace"
        )
        gauge("oms_ready", "1 once the process is ready (restored, caught up), else 0").set_function(
            lambda: 1.0 if self.ready() else 0.0
        )
        # Processors (streams/runner.py)
        self.records_processed = counter(
            "oms_records_processed", "Input records in committed transactions", "processor", "topic"
        )
        self.records_produced = counter(
            "oms_records_produced", "Output records in committed transactions (not changelogs)", "processor", "topic"
        )
        self.batch_records = histogram("oms_batch_records", "Input records per committed batch", _RECORDS, "processor")
        self.batch_seconds = histogram(
            "oms_batch_duration_seconds",
            "A committed batch, from processing to its committed transaction",
            SECONDS,
            "processor",
        )
        self.commit_seconds = histogram(
            "oms_transaction_commit_seconds", "Committing a transaction (offsets and commit)", SECONDS, "processor"
        )
        self.transactions = counter(
            "oms_transactions", "Transactions by outcome (committed, aborted)", "processor", "outcome"
        )
        self.consumer_lag = gauge(
            "oms_consumer_lag", "Records left to read up to the last stable offset", "consumer", "topic", "partition"
        )

    def counter(self, name: str, doc: str, *labels: str) -> Counter:
        return Counter(name, doc, labels, registry=self.registry)

    def gauge(self, name: str, doc: str, *labels: str) -> Gauge:
        return Gauge(name, doc, labels, registry=self.registry)

    def histogram(self, name: str, doc: str, buckets: Sequence[float] = SECONDS, *labels: str) -> Histogram:
        return Histogram(name, doc, labels, buckets=buckets, registry=self.registry)

    def extension(self, key: str, make: Callable[[Metrics], T]) -> T:
        """The application's metrics under key in this registry, made by
        make(self) on first use (a metric registers once per registry)."""
        with self._lock:
            if key not in self._extensions:
                self._extensions[key] = make(self)
            return self._extensions[key]  # type: ignore[return-value]

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

    def runner(self, processor: str, on_committed: Callable[[Sequence[Output]], None] | None = None) -> RunnerMetrics:
        """A runner's metrics; on_committed sees the outputs of each committed batch."""
        return RunnerMetrics(self, processor, on_committed)


class RunnerMetrics:
    """The metrics of one ProcessorRunner, with its label values bound."""

    def __init__(
        self, metrics: Metrics, processor: str, on_committed: Callable[[Sequence[Output]], None] | None = None
    ) -> None:
        self.metrics = metrics
        self.processor = processor
        self._on_committed = on_committed
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
        if self._on_committed is not None:
            self._on_committed(outputs)

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
    def log_message(self, format: str, *args: object) -> None:
        pass


def wsgi_app(metrics: Metrics) -> Callable[..., Iterable[bytes]]:
    """`/ready`: 200 or 503; anything else: the metrics."""
    exposition = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, object], start_response: Callable[..., object]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/ready":
            ready = metrics.ready()
            start_response(
                "200 OK" if ready else "503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")]
            )
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
    port: int,
    instance_id: str = "0",
    namespace: str = "",
    metrics: Metrics | None = None,
    host: str = "127.0.0.1",
) -> MetricsServer:
    """Serves the process's metrics and readiness on port (0: any free one;
    see `block_port`). If that port is taken, any free one is used, with a warning."""
    metrics = metrics or process_metrics()
    metrics.info.labels(service, instance_id, namespace).set(1)
    wanted = port
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
