"""Running the platform's services: topics, runners and metrics from settings."""

from __future__ import annotations

from streams import logs
from streams.kafka import ensure_topics
from streams.leveldb import LevelDbBackend
from streams.metrics import MetricsServer, process_metrics, serve_metrics
from streams.processor import Processor
from streams.runner import ProcessorRunner
from streams.service import begin_service, stop_on_signals
from topology.config import Config
from topology.deadletters import DeadLetters
from topology.metrics import OrderMetrics
from topology.registry import STATEFUL_PROCESSORS, metrics_port
from topology.topics import Topics


def begin(service: str, settings: Config) -> None:
    """What every service process does first: die with its supervisor, fewer
    malloc arenas, logging as configured (OMS_LOG_LEVEL, OMS_LOG_FORMAT)."""
    begin_service(service, settings.instance_id, settings.log_level, settings.log_format, settings.supervisor_pid)


def configure_logging(service: str, settings: Config) -> None:
    """Logging of a process that is no service instance (the launcher)."""
    logs.configure(service, level=settings.log_level, log_format=settings.log_format)


def start_metrics(service: str, settings: Config) -> MetricsServer:
    """Serves this process's metrics and /ready on its port (OMS_METRICS_PORT)."""
    port = metrics_port(settings.metrics_port, service, settings.instance_id)
    return serve_metrics(service, port, settings.instance_id, settings.namespace, host=settings.metrics_host)


def create_topics(settings: Config) -> None:
    ensure_topics(
        settings.kafka,
        Topics(settings.namespace).all(STATEFUL_PROCESSORS),
        settings.partitions,
        settings.topic_replication_factor,
    )


def build_runner(processor: Processor, settings: Config) -> ProcessorRunner:
    topics = Topics(settings.namespace)
    member = f"{processor.name}-{settings.instance_id}"
    backend = None
    if processor.stateful:
        backend = LevelDbBackend(settings.data_dir / "state" / topics.group(member))
    metrics = process_metrics()
    return ProcessorRunner(
        processor,
        settings.kafka,
        group_id=topics.group(processor.name),
        transactional_id=topics.group(member),
        changelog_topic=topics.changelog(processor.name),
        dead_letter=DeadLetters(topics.dead_letters),
        backend=backend,
        max_batch=settings.max_batch,
        commit_interval_ms=settings.commit_interval_ms,
        group_instance_id=topics.group(member),
        metrics=metrics.runner(processor.name, on_committed=OrderMetrics.of(metrics).counting(topics)),
    )


def run_processor(processor: Processor, settings: Config) -> None:
    """The body of every processor's entry point."""
    begin(processor.name, settings)
    start_metrics(processor.name, settings)
    create_topics(settings)
    stop = stop_on_signals()
    build_runner(processor, settings).run(stop)
