"""The one module that talks to confluent_kafka.

Everything Kafka-shaped is turned into `Record`/`Output` values and into this
module's own exceptions here, so that the rest of the code base neither
imports confluent_kafka nor handles its error objects.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import (
    Consumer,
    IsolationLevel,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    OffsetSpec,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from streams.logs import RepeatFilter
from streams.records import Output, Record
from streams.topics import TopicDrift, TopicSpec

log = logging.getLogger(__name__)

TopicPartitionKey = tuple[str, int]


class StreamsError(Exception):
    """A Kafka operation failed and cannot be retried as it is."""


class TransactionAborted(StreamsError):
    """The transaction failed but can be aborted and the batch redone."""


class Fenced(StreamsError):
    """Another instance took over this instance's work; it must stop writing."""


@dataclass(frozen=True)
class Connection:
    """Where the brokers are, and the client properties every client needs to
    reach them (security settings, for example). Every client this module
    makes takes one, so none is left without them."""

    bootstrap_servers: str
    properties: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        # The properties may hold secrets: only their names are shown.
        return f"Connection({self.bootstrap_servers!r}, properties={sorted(self.properties)})"


# A bare bootstrap string is a connection without properties.
Brokers = Connection | str


def _connection(brokers: Brokers) -> Connection:
    return brokers if isinstance(brokers, Connection) else Connection(brokers)


# librdkafka's own log lines: one logger for every client, alike lines
# collapsed (an unreachable broker makes each client log every retry).
LIBRDKAFKA_LOG = logging.getLogger("librdkafka")
LIBRDKAFKA_LOG.addFilter(RepeatFilter())


def _common(brokers: Brokers) -> dict[str, Any]:
    connection = _connection(brokers)
    config: dict[str, Any] = {
        "bootstrap.servers": connection.bootstrap_servers,
        "client.dns.lookup": "use_all_dns_ips",
        # Small requests go out at once (Nagle would hold them for an ACK).
        "socket.nagle.disable": True,
        # librdkafka's own log lines go through Python logging (served by
        # poll), so they take the service's log format like every other line.
        "logger": LIBRDKAFKA_LOG,
    }
    config.update(connection.properties)
    return config


def _producer_config(brokers: Brokers) -> dict[str, Any]:
    return {
        **_common(brokers),
        "enable.idempotence": True,
        "acks": "all",
        # The Java client's partitioner, so that keys land where Kafka Streams
        # and every other Java producer would put them.
        "partitioner": "murmur2_random",
        "linger.ms": 2,
    }


LagReport = Callable[[dict[TopicPartitionKey, int]], None]
STATS_INTERVAL_MS = 5000


def consumer_lag(stats: Mapping[str, Any]) -> dict[TopicPartitionKey, int]:
    """The lag per partition a consumer fetches, from librdkafka statistics:
    records between its position (past the last record it handed out) and
    the partition's end (the last stable offset, as all our consumers read
    committed records only). Before it has handed out any record of a
    partition, the position is its committed offset, or else where its
    fetcher stands."""
    lags: dict[TopicPartitionKey, int] = {}
    for topic, topic_stats in (stats.get("topics") or {}).items():
        for key, partition in (topic_stats.get("partitions") or {}).items():
            number = int(key)
            if number < 0 or partition.get("fetch_state") in (None, "none", "stopping", "stopped"):
                continue
            lag = partition.get("consumer_lag_stored", -1)
            if lag < 0:
                lag = partition.get("consumer_lag", -1)
            if lag < 0 and partition.get("ls_offset", -1) >= 0 and partition.get("next_offset", -1) >= 0:
                lag = max(0, partition["ls_offset"] - partition["next_offset"])
            if lag >= 0:
                lags[(topic, number)] = lag
    return lags


def _lag_stats(on_lag: LagReport | None) -> dict[str, object]:
    """Asks librdkafka for statistics every few seconds, served by poll(),
    and reports the consumer lag in them."""
    if on_lag is None:
        return {}

    def stats(raw: str) -> None:
        try:
            on_lag(consumer_lag(json.loads(raw)))
        except Exception:  # a metrics fault must never stop the poll loop
            log.exception("cannot read the consumer statistics")

    return {"statistics.interval.ms": STATS_INTERVAL_MS, "stats_cb": stats}


def _group_consumer(
    brokers: Brokers,
    group_id: str,
    group_instance_id: str | None,
    **settings: object,
) -> Consumer:
    """A read_committed group member that commits nothing by itself."""
    config: dict[str, object] = {
        **_common(brokers),
        "group.id": group_id,
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        # Range assignment keeps partition N of every input on one instance:
        # the co-partitioning that partitioned state needs.
        "partition.assignment.strategy": "range",
        "fetch.wait.max.ms": 500,
        # Kafka's default, and longer than a coordinator's move after a
        # broker's loss (the controller waits out broker.session.timeout.ms,
        # 9 s). A client whose session runs out rejoins as a new static
        # member, which fences its own earlier registration: a fatal error.
        # A crashed instance comes back under its static id at once, so the
        # long timeout only holds the partitions of one that never returns.
        "session.timeout.ms": 45_000,
        "heartbeat.interval.ms": 1_000,
    }
    if group_instance_id:
        # A restarted instance reclaims its partitions at once instead of
        # waiting out the session timeout; a second process with the same id
        # is fenced.
        config["group.instance.id"] = group_instance_id
    config.update(settings)
    return Consumer(config)


def _records(messages: Iterable[object], on_eof: Callable[[str, int, int], None] | None = None) -> list[Record]:
    """Records of consumed messages; end-of-partition events go to on_eof,
    any other error is raised."""
    records = []
    for message in messages:
        error = message.error()  # type: ignore[attr-defined]
        if error is None:
            records.append(_record(message))
        elif error.code() == KafkaError._PARTITION_EOF:
            if on_eof is not None:
                on_eof(message.topic(), message.partition(), message.offset())  # type: ignore[attr-defined]
        else:
            _raise_for(error, "consume")
    return records


def ensure_topics(
    brokers: Brokers,
    specs: Iterable[TopicSpec],
    partitions: int,
    replication_factor: int,
    timeout_s: float = 60.0,
) -> None:
    """Creates the topics that do not exist yet (existing ones are left
    alone) and waits until every partition of those is served."""
    admin = AdminClient(_common(brokers))
    wanted = list(specs)
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    new = []
    for spec in wanted:
        if spec.name in existing:
            continue
        config = spec.wanted_configs
        if replication_factor > 1:
            config["min.insync.replicas"] = str(replication_factor - 1)
        new.append(NewTopic(spec.name, partitions, replication_factor, config=config))
    if new:
        for name, future in admin.create_topics(new, operation_timeout=timeout_s).items():
            try:
                future.result(timeout=timeout_s)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise StreamsError(f"cannot create topic {name}: {exc}") from exc
        # Only new topics: an existing one with a partition offline (a broker
        # down) must not keep a restarting service from its other partitions.
        _wait_for_leaders(admin, [topic.topic for topic in new], timeout_s)


def topic_drift(brokers: Brokers, specs: Iterable[TopicSpec], timeout_s: float = 30.0) -> list[TopicDrift]:
    """The existing topics among specs whose configs differ from their
    spec's (a topic that does not exist is no drift)."""
    admin = AdminClient(_common(brokers))
    wanted = {spec.name: spec.wanted_configs for spec in specs if spec.wanted_configs}
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    resources = [ConfigResource(ResourceType.TOPIC, name) for name in wanted if name in existing]
    if not resources:
        return []
    drifts = []
    for resource, future in admin.describe_configs(resources, request_timeout=timeout_s).items():
        try:
            entries = future.result(timeout=timeout_s)
        except KafkaException as exc:
            raise StreamsError(f"cannot read the configs of topic {resource.name}: {exc}") from exc
        have = {key: entry.value for key, entry in entries.items()}
        differences = {
            key: (have.get(key), value) for key, value in wanted[resource.name].items() if have.get(key) != value
        }
        if differences:
            drifts.append(TopicDrift(resource.name, differences))
    return sorted(drifts, key=lambda drift: drift.name)


def fix_topic_configs(brokers: Brokers, drifts: Iterable[TopicDrift], timeout_s: float = 30.0) -> None:
    """Sets the configs that drifted to their spec's values (only those:
    incremental, so the topic's other configs stay as they are)."""
    resources = [
        ConfigResource(
            ResourceType.TOPIC,
            drift.name,
            incremental_configs=[
                ConfigEntry(key, want, incremental_operation=AlterConfigOpType.SET)
                for key, (_, want) in drift.differences.items()
            ],
        )
        for drift in drifts
    ]
    if not resources:
        return
    admin = AdminClient(_common(brokers))
    for resource, future in admin.incremental_alter_configs(resources, request_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            raise StreamsError(f"cannot change the configs of topic {resource.name}: {exc}") from exc


@dataclass(frozen=True)
class Permissions:
    """What one Kafka user may do, and nothing more: read and write its own
    topics, join its own consumer groups, and run transactions under its own
    transactional-id prefixes."""

    reads: frozenset[str] = frozenset()
    writes: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    group_prefixes: frozenset[str] = frozenset()
    transactional_id_prefixes: frozenset[str] = frozenset()
    # Other users' groups whose committed offsets it may read (how far they got).
    observed_groups: frozenset[str] = frozenset()

    def __or__(self, other: Permissions) -> Permissions:
        return Permissions(
            self.reads | other.reads,
            self.writes | other.writes,
            self.groups | other.groups,
            self.group_prefixes | other.group_prefixes,
            self.transactional_id_prefixes | other.transactional_id_prefixes,
            self.observed_groups | other.observed_groups,
        )

    @property
    def topics(self) -> frozenset[str]:
        return self.reads | self.writes

    def acls(self, user: str) -> list[AclBinding]:
        """The ACLs that allow it (DESCRIBE_CONFIGS on its topics: a service
        checks their retention at start-up)."""
        principal = f"User:{user}"
        wanted: list[tuple[ResourceType, str, ResourcePatternType, AclOperation]] = []
        literal, prefixed = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
        for topic in sorted(self.topics):
            operations = [AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS]
            operations += [AclOperation.READ] if topic in self.reads else []
            operations += [AclOperation.WRITE] if topic in self.writes else []
            wanted += [(ResourceType.TOPIC, topic, literal, operation) for operation in operations]
        wanted += [(ResourceType.GROUP, group, literal, AclOperation.READ) for group in sorted(self.groups)]
        wanted += [(ResourceType.GROUP, prefix, prefixed, AclOperation.READ) for prefix in sorted(self.group_prefixes)]
        wanted += [
            (ResourceType.GROUP, group, literal, AclOperation.DESCRIBE) for group in sorted(self.observed_groups)
        ]
        for prefix in sorted(self.transactional_id_prefixes):
            for operation in (AclOperation.WRITE, AclOperation.DESCRIBE):
                wanted.append((ResourceType.TRANSACTIONAL_ID, prefix, prefixed, operation))
        return [
            AclBinding(kind, name, pattern, principal, "*", operation, AclPermissionType.ALLOW)
            for kind, name, pattern, operation in wanted
        ]


SCRAM_ITERATIONS = 8192


def set_scram_users(brokers: Brokers, passwords: Mapping[str, str], timeout_s: float = 30.0) -> None:
    """Creates each user's SCRAM-SHA-512 credential, or gives it the new password."""
    admin = AdminClient(_common(brokers))
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(user, info, password.encode()) for user, password in passwords.items()
    ]
    for user, future in admin.alter_user_scram_credentials(upserts, request_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:  # the message names the user, never the password
            raise StreamsError(f"cannot set the SCRAM credential of user {user}: {exc}") from exc


def grant(brokers: Brokers, user: str, permissions: Permissions, timeout_s: float = 30.0) -> None:
    """Creates the ACLs that allow a user its permissions (creating an ACL
    that exists already changes nothing)."""
    admin = AdminClient(_common(brokers))
    for binding, future in admin.create_acls(permissions.acls(user), request_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            raise StreamsError(f"cannot create the ACL {binding}: {exc}") from exc


def _wait_for_leaders(admin: AdminClient, topics: list[str], timeout_s: float) -> None:
    """Returns once every partition of the topics answers a ListOffsets.

    Right after creation the metadata already names a leader while that
    broker is still opening the partition (NOT_LEADER_FOR_PARTITION); with
    many partitions on a busy broker that takes a while.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        metadata = admin.list_topics(timeout=timeout_s)
        pending = [name for name in topics if name not in metadata.topics or metadata.topics[name].error is not None]
        if not pending:
            request = {
                TopicPartition(name, p): OffsetSpec.latest()
                for name in topics
                for p in metadata.topics[name].partitions
            }
            for tp, future in admin.list_offsets(request, request_timeout=timeout_s).items():
                try:
                    future.result()
                except KafkaException:
                    pending.append(f"{tp.topic}[{tp.partition}]")
        if not pending:
            return
        if time.monotonic() > deadline:
            raise StreamsError(f"partitions not served after {timeout_s}s: {pending[:10]}")
        time.sleep(0.2)


def partition_count(brokers: Brokers, topic: str, timeout_s: float = 10.0) -> int:
    metadata = AdminClient(_common(brokers)).list_topics(topic, timeout=timeout_s)
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        raise StreamsError(f"topic {topic} not found")
    return len(found.partitions)


@dataclass(frozen=True)
class GroupMember:
    client_id: str
    partitions: frozenset[TopicPartitionKey]
    group_instance_id: str | None = None


def group_members(
    brokers: Brokers, group_id: str, timeout_s: float = 10.0, admin: AdminClient | None = None
) -> list[GroupMember]:
    """The members of a consumer group and the partitions each is assigned.

    Callers that ask often pass an `admin` from `admin_client`, to keep one
    connection instead of opening one per question."""
    admin = admin or AdminClient(_common(brokers))
    future = admin.describe_consumer_groups([group_id], request_timeout=timeout_s)[group_id]
    try:
        description = future.result(timeout=timeout_s)
    except KafkaException as exc:
        raise StreamsError(f"describe group {group_id}: {exc}") from exc
    return [
        GroupMember(
            member.client_id,
            frozenset((tp.topic, tp.partition) for tp in member.assignment.topic_partitions),
            member.group_instance_id,
        )
        for member in description.members
    ]


def _offsets_of(brokers: Brokers, group_id: str) -> Consumer:
    """A consumer that only asks the offsets a group committed (it never
    joins the group, so the group's members are not disturbed)."""
    return Consumer(
        {
            **_common(brokers),
            "group.id": group_id,
            "enable.auto.commit": False,
            # read_committed would ask the broker for stable offsets only,
            # and a group committing in transactions non-stop always has
            # one pending: committed() would retry until it timed out.
            # The last committed offsets are what is asked here.
            "isolation.level": "read_uncommitted",
        }
    )


def _committed_with_metadata(
    consumer: Consumer, partitions: Iterable[TopicPartitionKey], timeout_s: float
) -> dict[TopicPartitionKey, tuple[int, str]]:
    """The offsets a group committed (negative: none) and the metadata
    committed with each, by partition."""
    try:
        found = consumer.committed([TopicPartition(t, p) for t, p in partitions], timeout=timeout_s)
    except KafkaException as exc:
        raise StreamsError(f"committed offsets: {exc}") from exc
    return {(tp.topic, tp.partition): (tp.offset, tp.metadata or "") for tp in found}


def _committed(
    consumer: Consumer, partitions: Iterable[TopicPartitionKey], timeout_s: float
) -> dict[TopicPartitionKey, int]:
    """The offsets a group committed (negative: none), by partition."""
    return {tp: offset for tp, (offset, _) in _committed_with_metadata(consumer, partitions, timeout_s).items()}


def has_committed(
    brokers: Brokers, group_id: str, partitions: Iterable[TopicPartitionKey], timeout_s: float = 30.0
) -> bool:
    """Whether a group has committed an offset on any of these partitions."""
    consumer = _offsets_of(brokers, group_id)
    try:
        return any(offset >= 0 for offset in _committed(consumer, partitions, timeout_s).values())
    finally:
        consumer.close()


class GroupProgress:
    """How far a consumer group has read some partitions.

    A group's committed offsets count the records it consumed, not the
    transaction markers after them: a partition whose last records are a
    transaction's ends one or more offsets past the committed offset of a
    group that read everything. So a partition counts as read once the
    committed offset reaches the end, or once nothing but markers lies
    between the two (a read_committed probe finds no record there).

    Ends found read are remembered: a group's progress never goes back, so
    ends no further than those are read too, and need no broker round trip
    (nor a probe, at rest every partition ends in markers)."""

    def __init__(self, brokers: Brokers, group_id: str) -> None:
        self._committed = _offsets_of(brokers, group_id)
        self._probe = Consumer(
            {
                **_common(brokers),
                "group.id": f"{group_id}.progress-probe",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                # A range of markers only has nothing to fetch: say so at once.
                "fetch.wait.max.ms": 10,
            }
        )
        self._lock = threading.Lock()
        # The furthest ends the group was found to have read, per partition.
        self._read: dict[TopicPartitionKey, int] = {}

    def reached(self, ends: Mapping[TopicPartitionKey, int], timeout_s: float = 10.0) -> bool:
        """Whether the group has read every record before `ends` (blocking)."""
        with self._lock:
            if all(end <= self._read.get(tp, -1) for tp, end in ends.items()):
                return True
            committed = _committed(self._committed, ends, timeout_s)
            behind = {tp: offset for tp, offset in committed.items() if offset < ends[tp]}
            if behind and self._records_before(behind, ends, timeout_s):
                return False
            for tp, end in ends.items():
                self._read[tp] = max(end, self._read.get(tp, -1))
            return True

    def _records_before(
        self, starts: Mapping[TopicPartitionKey, int], ends: Mapping[TopicPartitionKey, int], timeout_s: float
    ) -> bool:
        """Whether a committed record lies in [start, end) of any partition."""
        self._probe.assign([TopicPartition(t, p, max(start, 0)) for (t, p), start in starts.items()])
        try:
            remaining = set(starts)
            deadline = time.monotonic() + timeout_s
            while remaining:
                message = self._probe.poll(min(1.0, max(0.01, deadline - time.monotonic())))
                if message is None:
                    if time.monotonic() > deadline:
                        return True  # cannot tell: count it as not read yet
                    continue
                key = (str(message.topic()), int(message.partition() or 0))
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        _raise_for(error, "progress probe")
                    remaining.discard(key)
                    continue
                if int(message.offset() or 0) < ends[key]:
                    return True
                remaining.discard(key)
            return False
        finally:
            self._probe.unassign()

    def close(self) -> None:
        self._committed.close()
        self._probe.close()


class GroupLag:
    """How many records a consumer group has yet to read of some partitions,
    from the offsets it committed: asked of the group's coordinator, never
    of its members, so it answers just as well for a group that is stopped
    (or never started: then every record counts).

    It counts offsets, which are records but for transaction markers. A
    partition that a transactional writer wrote last ends in a commit
    marker: a group that read everything has committed the marker's offset,
    one short of the end (see GroupProgress). So one offset per partition is
    not counted, and a group that is not behind shows 0 however many
    partitions it reads; for one that is behind, the markers among the
    records it has yet to read count as records (a rough count is what a
    backlog needs)."""

    def __init__(self, brokers: Brokers, group_id: str) -> None:
        self.group_id = group_id
        self._committed = _offsets_of(brokers, group_id)

    def behind(self, ends: Mapping[TopicPartitionKey, int], timeout_s: float = 5.0) -> dict[TopicPartitionKey, int]:
        """Records left before `ends` (the partitions' end offsets), by partition (blocking)."""
        committed = _committed(self._committed, ends, timeout_s)
        return {tp: max(0, end - max(committed.get(tp, 0), 0) - 1) for tp, end in ends.items()}

    def close(self) -> None:
        self._committed.close()


def admin_client(brokers: Brokers) -> AdminClient:
    return AdminClient(_common(brokers))


def last_stable_offsets(
    admin: AdminClient, partitions: Iterable[TopicPartitionKey], timeout_s: float = 30.0
) -> dict[TopicPartitionKey, int]:
    """The last stable offset of each partition: where read_committed ends now."""
    wanted = list(partitions)
    if not wanted:
        return {}
    deadline = time.monotonic() + timeout_s
    while True:
        futures = admin.list_offsets(
            {TopicPartition(t, p): OffsetSpec.latest() for t, p in wanted},
            isolation_level=IsolationLevel.READ_COMMITTED,
            request_timeout=timeout_s,
        )
        try:
            return {(tp.topic, tp.partition): f.result().offset for tp, f in futures.items()}
        except KafkaException as exc:
            # Leadership moves right after topic creation and broker restarts.
            if not exc.args[0].retriable() or time.monotonic() > deadline:
                raise StreamsError(f"list_offsets: {exc}") from exc
            time.sleep(0.1)


def _record(message: object) -> Record:
    _, timestamp = message.timestamp()  # type: ignore[attr-defined]
    return Record(
        topic=message.topic(),  # type: ignore[attr-defined]
        partition=message.partition(),  # type: ignore[attr-defined]
        offset=message.offset(),  # type: ignore[attr-defined]
        key=message.key(),  # type: ignore[attr-defined]
        value=message.value(),  # type: ignore[attr-defined]
        timestamp_ms=timestamp,
    )


def _fetch(consumer: Consumer, max_records: int, timeout_s: float) -> list[object]:
    """Waits up to timeout_s for a first message, then takes whatever else is
    already fetched: no waiting when idle, large batches under load."""
    first = consumer.poll(timeout_s)
    if first is None:
        return []
    return [first, *consumer.consume(num_messages=max_records - 1, timeout=0)]


def _raise_for(error: KafkaError, what: str) -> None:
    if error.fatal() or error.code() in (
        KafkaError._FENCED,
        KafkaError.PRODUCER_FENCED,
        KafkaError.INVALID_PRODUCER_EPOCH,
    ):
        raise Fenced(f"{what}: {error}")
    if error.txn_requires_abort():
        raise TransactionAborted(f"{what}: {error}")
    raise StreamsError(f"{what}: {error}")


def _retried(call: Callable[[], int], timeout_s: float = 30.0) -> int:
    """A metadata call, again while the broker answers with a retriable error."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except KafkaException as exc:
            if not exc.args[0].retriable() or time.monotonic() > deadline:
                raise StreamsError(str(exc)) from exc
            time.sleep(0.1)


def _retrying(call: Callable[[], object], what: str, attempts: int = 6) -> None:
    """Runs a transactional call, again while the broker says it is retriable
    (CONCURRENT_TRANSACTIONS and coordinator moves, typically). When that
    does not help, the error propagates and the process ends: its restart
    re-initialises the transactional id, which aborts whatever was left open
    (crash-only recovery, as for a kill -9)."""
    for attempt in range(attempts):
        try:
            call()
            return
        except KafkaException as exc:
            error = exc.args[0]
            if not error.retriable() or error.txn_requires_abort() or attempt == attempts - 1:
                _raise_for(error, what)
            time.sleep(min(1.0, 0.05 * 2**attempt))


def _end_process(what: str) -> None:
    log.critical("%s is stuck past its timeout; ending the process so that its restart recovers", what)
    os._exit(70)  # EX_SOFTWARE; the supervisor restarts it


class Watchdog:
    """Ends the process when a blocking librdkafka call outlives its timeout.

    librdkafka's send_offsets_to_transaction can block for good, whatever
    its timeout, when the group coordinator's broker goes away (librdkafka
    issues 5456 and 5511). No Python code runs in the blocked thread, not
    even a signal handler, so another thread watches the clock. Ending the
    process is the same crash-only recovery as for any other transactional
    failure: the restart's init_transactions aborts what was left open.
    """

    def __init__(self, on_stuck: Callable[[str], None] = _end_process, check_every_s: float = 1.0) -> None:
        self._on_stuck = on_stuck
        self._check_every_s = check_every_s
        self._deadline: float | None = None
        self._what = ""
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="kafka-watchdog", daemon=True)
        self._thread.start()

    @contextmanager
    def guarding(self, what: str, within_s: float) -> Iterator[None]:
        """Calls in this block must return within within_s."""
        self._what = what
        self._deadline = time.monotonic() + within_s
        try:
            yield
        finally:
            self._deadline = None

    def _watch(self) -> None:
        while not self._closed.wait(self._check_every_s):
            deadline = self._deadline
            if deadline is not None and time.monotonic() > deadline:
                self._on_stuck(self._what)
                return

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)


# How long past its own timeout a transactional call may block before the
# watchdog gives up on it.
STUCK_MARGIN_S = 15.0


class TransactionalIO:
    """A consumer and a transactional producer, bound for exactly-once work.

    The producer's transactional id is fixed per instance, and the consumed
    offsets are committed inside each transaction together with the group's
    metadata, so a zombie of an earlier generation is fenced by the broker.
    """

    def __init__(
        self,
        brokers: Brokers,
        group_id: str,
        transactional_id: str,
        inputs: Iterable[str],
        on_assigned: Callable[[set[int]], None],
        on_revoked: Callable[[set[int]], None],
        transaction_timeout_ms: int = 30_000,
        group_instance_id: str | None = None,
        on_lag: LagReport | None = None,
        watchdog: Watchdog | None = None,
        reported_topics: Iterable[str] | None = None,
    ) -> None:
        self._inputs = list(inputs)
        # Where records of these topics land is reported by commit (None: every
        # topic's). A failed delivery of any record fails the commit anyway:
        # a report per record is only for those whose offsets the caller needs.
        self._reported = None if reported_topics is None else frozenset(reported_topics)
        self._watchdog = watchdog if watchdog is not None else Watchdog()
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked
        self._closing = False
        self._consumer = _group_consumer(brokers, group_id, group_instance_id, **_lag_stats(on_lag))
        self._producer = Producer(
            {
                **_producer_config(brokers),
                "transactional.id": transactional_id,
                "transaction.timeout.ms": transaction_timeout_ms,
                # Right after a commit the coordinator still writes its markers
                # and answers the next transaction's first request with
                # CONCURRENT_TRANSACTIONS; librdkafka's default 100 ms back-off
                # before retrying would then sit on every hop's latency.
                "retry.backoff.ms": 5,
            }
        )
        self._delivered: list[tuple[str, int, int]] = []
        # The first record of the open transaction the broker did not take.
        self._undelivered: str | None = None

    def _transactional(self, call: Callable[[], object], what: str, timeout_s: float) -> None:
        def guarded() -> None:
            with self._watchdog.guarding(what, timeout_s + STUCK_MARGIN_S):
                call()

        _retrying(guarded, what)

    def start(self, timeout_s: float = 60.0) -> None:
        with self._watchdog.guarding("init_transactions", timeout_s + STUCK_MARGIN_S):
            try:
                self._producer.init_transactions(timeout_s)
            except KafkaException as exc:
                _raise_for(exc.args[0], "init_transactions")
        self._consumer.subscribe(self._inputs, on_assign=self._assign, on_revoke=self._revoke, on_lost=self._revoke)

    def _assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # close() can hand over an assignment of a rebalance in flight; the
        # broker handle is going away then, so nothing could be read for it.
        if not self._closing:
            self._on_assigned({tp.partition for tp in partitions})

    def _revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._on_revoked({tp.partition for tp in partitions})

    def assignment(self) -> set[int]:
        return {tp.partition for tp in self._consumer.assignment()}

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        return _records(_fetch(self._consumer, max_records, timeout_s))

    def committed(
        self, partitions: Iterable[TopicPartitionKey], timeout_s: float = 30.0
    ) -> dict[TopicPartitionKey, tuple[int, str]]:
        """The group's committed offset (negative: none yet) and the metadata
        committed with it, per partition. Stable offsets only: it waits out a
        transaction of the partition's previous owner that is still open."""
        return _committed_with_metadata(self._consumer, partitions, timeout_s)

    def begin(self) -> None:
        self._delivered.clear()
        self._undelivered = None
        # begin_transaction is local: it takes no timeout and does not block.
        _retrying(self._producer.begin_transaction, "begin_transaction")

    def send(
        self, output: Output, on_delivered: Callable[[Record], None] | None = None, timestamp_ms: int | None = None
    ) -> None:
        """Produces output in the open transaction (with this timestamp, or
        now); on_delivered gets it as a record (with its offset) once the
        broker has it (see flush)."""
        kwargs: dict[str, Any] = {}
        if output.partition is not None:
            kwargs["partition"] = output.partition
        if timestamp_ms is not None:
            kwargs["timestamp"] = timestamp_ms
        if on_delivered is not None:

            def report(error: KafkaError | None, message: object) -> None:
                self._on_delivery(error, message)
                if error is None:
                    on_delivered(_record(message))

            kwargs["on_delivery"] = report
        elif self._reported is None or output.topic in self._reported:
            kwargs["on_delivery"] = self._on_delivery

        while True:
            try:
                self._producer.produce(output.topic, output.value, output.key, **kwargs)
                return
            except BufferError:
                # The local queue is full: let librdkafka send, then try again.
                self._producer.poll(0.05)
            except KafkaException as exc:
                _raise_for(exc.args[0], "produce")

    def _on_delivery(self, error: KafkaError | None, message: object) -> None:
        # Never raises: librdkafka serves reports inside flush, commit, abort
        # and close, and an abort purges what is queued (each purged record
        # reports an error), so an exception here would break the abort
        # itself. flush and commit say what failed.
        if error is None:
            self._delivered.append(
                (message.topic(), message.partition(), message.offset())  # type: ignore[attr-defined]
            )
        elif self._undelivered is None:
            self._undelivered = str(error)

    def flush(self, timeout_s: float = 15.0) -> None:
        """Waits until the broker has every record sent so far (delivery
        reports served), inside the open transaction."""
        with self._watchdog.guarding("flush", timeout_s + STUCK_MARGIN_S):
            left = self._producer.flush(timeout_s)
        if left:
            raise TransactionAborted(f"flush: {left} records not delivered within {timeout_s} s")
        if self._undelivered is not None:
            raise TransactionAborted(f"produce: {self._undelivered}")

    def commit(
        self,
        next_offsets: Mapping[TopicPartitionKey, int],
        timeout_s: float = 15.0,
        metadata: Mapping[TopicPartitionKey, str] | None = None,
    ) -> list[tuple[str, int, int]]:
        """Commits the transaction with the consumed offsets (each with its
        metadata, if any); returns where its records of the reported topics
        went (topic, partition, offset)."""
        notes = metadata or {}
        positions = [
            TopicPartition(t, p, o, metadata=notes[(t, p)]) if notes.get((t, p)) else TopicPartition(t, p, o)
            for (t, p), o in next_offsets.items()
        ]
        if positions:
            self._transactional(
                lambda: self._producer.send_offsets_to_transaction(
                    positions, self._consumer.consumer_group_metadata(), timeout_s
                ),
                "send_offsets_to_transaction",
                timeout_s,
            )
        if self._undelivered is not None:  # known already: no need to ask the coordinator
            raise TransactionAborted(f"produce: {self._undelivered}")
        self._transactional(lambda: self._producer.commit_transaction(timeout_s), "commit_transaction", timeout_s)
        self._producer.poll(0)  # serve the delivery reports of this transaction
        return list(self._delivered)

    def abort(self, timeout_s: float = 15.0) -> None:
        self._transactional(lambda: self._producer.abort_transaction(timeout_s), "abort_transaction", timeout_s)

    def rewind(self, to: Mapping[TopicPartitionKey, int]) -> None:
        """Reads the assigned ones of these partitions again from these offsets."""
        owned = {(tp.topic, tp.partition) for tp in self._consumer.assignment()}
        for (topic, partition), offset in to.items():
            if (topic, partition) in owned:
                self._consumer.seek(TopicPartition(topic, partition, offset))

    def close(self) -> None:
        self._closing = True
        self._watchdog.close()
        self._consumer.close()
        self._producer.flush(10)


def read_changelog(brokers: Brokers, topic: str, partition: int, from_offset: int) -> Iterator[Record]:
    """Every committed record of one partition from an offset to its current end."""
    consumer = Consumer(
        {
            **_common(brokers),
            "group.id": f"{topic}-restore",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            # At the end (often just a transaction marker past the
            # checkpoint) the broker answers an empty fetch after this long:
            # a restore of many partitions waits it out for each one.
            "fetch.wait.max.ms": 10,
        }
    )
    try:
        end = _retried(lambda: consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)[1])
        if from_offset >= end:
            return
        consumer.assign([TopicPartition(topic, partition, from_offset)])
        while True:
            # A short wait: consume() returns only when the batch is full or
            # the time is up, not at the end of the partition.
            messages = consumer.consume(num_messages=10_000, timeout=0.05)
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        return
                    _raise_for(error, f"restore {topic}[{partition}]")
                yield _record(message)
    finally:
        consumer.close()


class Publisher:
    """An idempotent, acks=all producer for request handlers.

    `publish` returns a Future of the record's (partition, offset), resolved
    once the broker has acknowledged it. A background thread serves delivery
    reports.
    """

    def __init__(self, brokers: Brokers) -> None:
        # A write that cannot be acknowledged within this fails, so that the
        # caller answers UNAVAILABLE and the client retries (idempotently).
        self._producer = Producer({**_producer_config(brokers), "message.timeout.ms": 20_000})
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._serve, name="publisher-poll", daemon=True)
        self._poller.start()

    def _serve(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(0.05)

    def publish(self, topic: str, key: bytes, value: bytes | None) -> Future[tuple[int, int]]:
        result: Future[tuple[int, int]] = Future()

        def delivered(error: KafkaError | None, message: object) -> None:
            if error is not None:
                result.set_exception(StreamsError(f"publish to {topic}: {error}"))
            else:
                result.set_result((message.partition(), message.offset()))  # type: ignore[attr-defined]

        try:
            self._producer.produce(topic, value, key, on_delivery=delivered)
        except (BufferError, KafkaException) as exc:
            result.set_exception(StreamsError(f"publish to {topic}: {exc}"))
        return result

    def close(self) -> None:
        self._producer.flush(10)
        self._closed.set()
        self._poller.join(timeout=5)


class CommittingConsumer:
    """A read_committed group consumer whose caller commits the offsets itself,
    once its side effects (which Kafka cannot make transactional) are durable.

    Used by the email sender: at least once, with its own deduplication.
    """

    def __init__(
        self,
        brokers: Brokers,
        group_id: str,
        inputs: Iterable[str],
        group_instance_id: str | None = None,
    ) -> None:
        self._consumer = _group_consumer(brokers, group_id, group_instance_id)
        self._consumer.subscribe(list(inputs))

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        return _records(_fetch(self._consumer, max_records, timeout_s))

    def commit(self, next_offsets: Mapping[TopicPartitionKey, int]) -> None:
        """Commits synchronously; a failure (after a rebalance) raises StreamsError."""
        positions = [TopicPartition(t, p, o) for (t, p), o in next_offsets.items()]
        if not positions:
            return
        try:
            self._consumer.commit(offsets=positions, asynchronous=False)
        except KafkaException as exc:
            raise StreamsError(f"commit: {exc}") from exc

    def close(self) -> None:
        self._consumer.close()


class ViewConsumer:
    """A read_committed consumer that resumes from offsets the caller stores.

    Used by projectors, which keep their position next to their view instead
    of in the consumer group.
    """

    def __init__(
        self,
        brokers: Brokers,
        group_id: str,
        inputs: Iterable[str],
        stored_offset: Callable[[str, int], int | None],
        on_assigned: Callable[[list[TopicPartitionKey]], None] = lambda _: None,
        on_revoked: Callable[[list[TopicPartitionKey]], None] = lambda _: None,
        group_instance_id: str | None = None,
        client_id: str | None = None,
        on_lag: LagReport | None = None,
    ) -> None:
        self._stored_offset = stored_offset
        # Replaced whole on every rebalance, so other threads may read it freely.
        self.assigned: frozenset[TopicPartitionKey] = frozenset()
        # Known read positions beyond what consumer.position() reports: where
        # reading started, and where the end of a partition was last reached
        # (past any transaction markers, which position() may not count).
        self._known: dict[TopicPartitionKey, int] = {}
        # positions() as last computed; None once a poll or rebalance moved them.
        self._positions: dict[TopicPartitionKey, int] | None = None
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked
        self._consumer = _group_consumer(
            brokers,
            group_id,
            group_instance_id,
            **{"enable.partition.eof": True, "fetch.wait.max.ms": 500},
            **({"client.id": client_id} if client_id else {}),
            **_lag_stats(on_lag),
        )
        self._consumer.subscribe(list(inputs), on_assign=self._assign, on_revoke=self._revoke, on_lost=self._revoke)
        self._admin = AdminClient(_common(brokers))

    def _assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            stored = self._stored_offset(tp.topic, tp.partition)
            if stored is not None:
                tp.offset = stored
                self._known[(tp.topic, tp.partition)] = stored
        consumer.assign(partitions)
        self._positions = None
        self.assigned = frozenset((tp.topic, tp.partition) for tp in partitions)
        self._on_assigned([(tp.topic, tp.partition) for tp in partitions])

    def _revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assigned = self.assigned - {(tp.topic, tp.partition) for tp in partitions}
        for tp in partitions:
            self._known.pop((tp.topic, tp.partition), None)
        self._positions = None
        self._on_revoked([(tp.topic, tp.partition) for tp in partitions])

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        messages = _fetch(self._consumer, max_records, timeout_s)
        if messages:
            self._positions = None
        return _records(messages, on_eof=self._reached_end)

    def _reached_end(self, topic: str, partition: int, offset: int) -> None:
        self._known[(topic, partition)] = max(self._known.get((topic, partition), 0), offset)

    def positions(self) -> dict[TopicPartitionKey, int]:
        """Next offset to read per assigned partition, where known.

        Asked after every poll, idle ones included, so it asks librdkafka
        only when a poll fetched something or partitions moved."""
        if self._positions is None:
            positions = {}
            for tp in self._consumer.position(self._consumer.assignment()):
                key = (tp.topic, tp.partition)
                best = max(tp.offset, self._known.get(key, -1))
                if best >= 0:
                    positions[key] = best
            self._positions = positions
        return dict(self._positions)

    def end_offsets(
        self, partitions: Iterable[TopicPartitionKey], timeout_s: float = 30.0
    ) -> dict[TopicPartitionKey, int]:
        """The last stable offset of each partition: where read_committed ends now."""
        return last_stable_offsets(self._admin, partitions, timeout_s)

    def close(self) -> None:
        self._consumer.close()


class BrokerProbe:
    """Asks the cluster for metadata every `interval_s` on a thread of its
    own, and tells whether a broker answered lately: a process that serves
    requests says it cannot (health NOT_SERVING) while the cluster is gone,
    even though its clients wait and reconnect by themselves."""

    def __init__(
        self,
        brokers: Brokers,
        interval_s: float = 1.0,
        timeout_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._admin = AdminClient(_common(brokers))
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._clock = clock
        # When a broker last answered; the start counts as an answer, so a
        # process is not reported unreachable before its first probe.
        self.answered_at = clock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._probe, name="broker-probe", daemon=True)

    def start(self) -> BrokerProbe:
        self._thread.start()
        return self

    def probe_once(self) -> bool:
        try:
            self._admin.list_topics(timeout=self._timeout_s)
        except KafkaException:
            return False
        self.answered_at = self._clock()
        return True

    def _probe(self) -> None:
        while not self._closed.wait(self._interval_s):
            self.probe_once()

    def reachable(self, within_s: float) -> bool:
        """Whether a broker answered in the last `within_s` seconds."""
        return self._clock() - self.answered_at <= within_s

    def close(self) -> None:
        self._closed.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._timeout_s + self._interval_s)
