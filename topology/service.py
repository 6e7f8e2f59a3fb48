"""Running the platform's services: topics, runners and metrics from settings."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from streams import logs
from streams.kafka import ensure_topics, fix_topic_configs, has_committed, partition_count, topic_drift
from streams.leveldb import LevelDbBackend
from streams.metrics import MetricsServer, process_metrics, serve_metrics
from streams.processor import Processor
from streams.runner import Hosted, ProcessorRunner
from streams.service import begin_service, stop_on_signals
from topology.config import EX_CONFIG, Config, env_name
from topology.deadletters import DeadLetters
from topology.metrics import OrderMetrics
from topology.registry import STATEFUL_PROCESSORS, Service, metrics_port, other_runners
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


log = logging.getLogger(__name__)


class TopicsWouldLoseEvents(RuntimeError):
    """Existing topics have configs under which Kafka would delete events
    (a retention limit, a cleanup policy), and they may not be changed."""


def create_topics(settings: Config, *, fix: bool | None = None, service: Service | None = None) -> None:
    """Creates the platform's topics that do not exist, then checks the
    configs of those that do: a topic that would lose events is fixed when
    `fix` (default: on the local broker, or with OMS_KAFKA_FIX_TOPIC_CONFIGS),
    and is TopicsWouldLoseEvents otherwise. A service's process does so for
    its own topics only (as its own Kafka user, it may see no other)."""
    specs = Topics(settings.namespace).all(STATEFUL_PROCESSORS)
    if service is not None:
        own = service.permissions(settings).topics
        specs = [spec for spec in specs if spec.name in own]
    ensure_topics(settings.kafka, specs, settings.partitions, settings.topic_replication_factor)
    drifts = topic_drift(settings.kafka, specs)
    if not drifts:
        return
    if fix is None:
        fix = settings.kafka_bootstrap is None or settings.kafka_fix_topic_configs
    listed = "; ".join(str(drift) for drift in drifts)
    if not fix:
        raise TopicsWouldLoseEvents(
            f"{len(drifts)} existing topic(s) would lose events: {listed}. Change these configs on the cluster, or set"
            f" {env_name('kafka_fix_topic_configs')}=1 to let oms change them"
        )
    log.warning("%d existing topic(s) would lose events; changing their configs: %s", len(drifts), listed)
    fix_topic_configs(settings.kafka, drifts)


def create_topics_or_exit(settings: Config, *, fix: bool | None = None, service: Service | None = None) -> None:
    """create_topics for a process's entry point: topics that would lose
    events stop it with EX_CONFIG (which the supervisor does not restart)."""
    try:
        create_topics(settings, fix=fix, service=service)
    except TopicsWouldLoseEvents as error:
        log.error("refusing to start: %s", error)
        raise SystemExit(EX_CONFIG) from None


def refuse_the_other_layouts_namespace(service: Service, settings: Config) -> None:
    """The layouts keep separate consumer groups. A namespace whose
    processors ran in the other layout would be read again from its start by
    this one: every order checked, reserved and mailed twice. So a runner
    whose processors the other layout's runners have read stops with
    EX_CONFIG (which the supervisor does not restart)."""
    topics = Topics(settings.namespace)
    inputs = {topic for spec in service.processors for topic in spec.build(settings).inputs}
    partitions = [(topic, p) for topic in sorted(inputs) for p in range(partition_count(settings.kafka, topic))]
    for runner in other_runners(service):
        if has_committed(settings.kafka, topics.group(runner), partitions):
            log.error(
                "refusing to start: %s of namespace %r already ran in the other layout (consumer group %s). Keep"
                " its layout (%s), or use a new namespace (%s)",
                service.name,
                settings.namespace,
                topics.group(runner),
                env_name("layout"),
                env_name("namespace"),
            )
            raise SystemExit(EX_CONFIG)


def build_runner(processors: Sequence[Processor], settings: Config, name: str = "") -> ProcessorRunner:
    """A runner of these processors: one group member (named `name`, or the
    processor's own name when it runs alone), each stateful processor with
    its own LevelDB store and changelog."""
    topics = Topics(settings.namespace)
    name = name or processors[0].name
    member = f"{name}-{settings.instance_id}"
    hosted = [
        Hosted(
            processor,
            topics.changelog(processor.name),
            LevelDbBackend(settings.data_dir / "state" / topics.group(f"{processor.name}-{settings.instance_id}")),
        )
        if processor.stateful
        else Hosted(processor)
        for processor in processors
    ]
    metrics = process_metrics()
    return ProcessorRunner(
        hosted,
        settings.kafka,
        group_id=topics.group(name),
        transactional_id=topics.group(member),
        dead_letter=DeadLetters(topics.dead_letters),
        name=name,
        max_batch=settings.max_batch,
        commit_interval_ms=settings.commit_interval_ms,
        group_instance_id=topics.group(member),
        metrics=metrics.runner(name, on_committed=OrderMetrics.of(metrics).counting(topics)),
        hand_off=settings.local_handoff,
        private_topics=topics.repartitions,
    )


def run_service(service: Service, settings: Config) -> None:
    """The body of every stream service's entry point: its processors in one runner."""
    begin(service.kind, settings)
    start_metrics(service.kind, settings)
    create_topics_or_exit(settings, service=service)
    refuse_the_other_layouts_namespace(service, settings)
    stop = stop_on_signals()
    build_runner([spec.build(settings) for spec in service.processors], settings, service.runner).run(stop)
