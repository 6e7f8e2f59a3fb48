"""Start and stop real Kafka brokers (KRaft, combined broker+controller) on loopback.

Layout of one cluster whose first broker listens on ``port``::

    $OMS_DATA_DIR/kafka/<port>/node-<id>/
        server.properties  log4j2.xml  kafka.pid
        data/    (log.dirs: partitions and the KRaft metadata log)
        logs/    (server.log from log4j2; stdout.log and format.log from the JVM)

Node ``i`` (1-based) listens on ``port + 2*(i-1)`` for clients and on the next
port for the controller quorum, so the default single node uses 9092/9093.
"""

from __future__ import annotations

import atexit
import base64
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol
from xml.sax.saxutils import escape as xml_escape

from . import settings
from .distribution import KafkaDistribution, install, tail

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_STARTUP_TIMEOUT_S = 60.0
DEFAULT_STOP_TIMEOUT_S = 30.0
JVM_HEAP_MIN = "256m"
JVM_HEAP_MAX = "1g"
# With sasl=True: the super user that formats the storage, the brokers speak
# as among themselves and to the controllers, and operators use.
ADMIN_USER = "admin"
SCRAM_MECHANISM = "SCRAM-SHA-512"


class KafkaStartError(RuntimeError):
    """The broker did not come up; the message carries the tail of its logs."""


class PortInUseError(KafkaStartError):
    """A port this cluster needs is already bound by something else."""


class KafkaService(Protocol):
    """What callers (tests, the CLI, services) rely on: a local or external cluster."""

    @property
    def bootstrap_servers(self) -> str: ...

    def start(self) -> KafkaService: ...

    def stop(self) -> None: ...

    def __enter__(self) -> KafkaService: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def from_env(**overrides: object) -> KafkaCluster | ExternalKafka:
    """The cluster the environment asks for, not yet started.

    With ``OMS_KAFKA_BOOTSTRAP`` set, an :class:`ExternalKafka` (nothing is
    installed or started); otherwise a :class:`KafkaCluster` configured from
    ``OMS_BROKERS``, ``OMS_KAFKA_PORT`` and ``OMS_DATA_DIR`` unless overridden.
    """
    bootstrap = settings.external_bootstrap()
    if bootstrap is not None:
        return ExternalKafka(bootstrap)
    return KafkaCluster(**overrides)  # type: ignore[arg-type]


class ExternalKafka:
    """A cluster someone else runs: start and stop do nothing."""

    is_external = True

    def __init__(self, bootstrap_servers: str) -> None:
        self._bootstrap_servers = bootstrap_servers

    @property
    def bootstrap_servers(self) -> str:
        return self._bootstrap_servers

    def start(self) -> ExternalKafka:
        return self

    def stop(self) -> None:
        pass

    def wait_ready(self, timeout: float = DEFAULT_STARTUP_TIMEOUT_S) -> None:
        """Optional check that the external cluster answers and has transactions."""
        _wait_until_ready(self._bootstrap_servers, 1, time.monotonic() + timeout, lambda: None)

    def __enter__(self) -> ExternalKafka:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ExternalKafka({self._bootstrap_servers!r})"


class KafkaNode:
    """One JVM running a combined broker+controller."""

    def __init__(self, node_id: int, broker_port: int, controller_port: int, home: Path) -> None:
        self.node_id = node_id
        self.broker_port = broker_port
        self.controller_port = controller_port
        self.home = home
        self._process: subprocess.Popen[bytes] | None = None
        self._stdout: IO[bytes] | None = None
        # True between start() and stop()/kill(): a JVM that exits while this
        # is set has crashed, one that exits after it was stopped has not.
        self.should_run = False

    # Paths -----------------------------------------------------------------
    @property
    def properties_path(self) -> Path:
        return self.home / "server.properties"

    @property
    def log4j_path(self) -> Path:
        return self.home / "log4j2.xml"

    @property
    def tools_log4j_path(self) -> Path:
        return self.home / "log4j2-tools.xml"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def pid_path(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def address(self) -> str:
        return f"{HOST}:{self.broker_port}"

    # State -----------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def is_alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._process.poll() if self._process else None

    @property
    def has_crashed(self) -> bool:
        return self.should_run and self._process is not None and self._process.poll() is not None

    def is_formatted(self) -> bool:
        return (self.data_dir / "meta.properties").exists()

    def cluster_id(self) -> str | None:
        try:
            text = (self.data_dir / "meta.properties").read_text()
        except OSError:
            return None
        match = re.search(r"^cluster\.id=(\S+)$", text, re.MULTILINE)
        return match.group(1) if match else None

    # Lifecycle -------------------------------------------------------------
    def write_config(self, properties: Mapping[str, str]) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lines = [f"{key}={value}" for key, value in properties.items()]
        # It may hold the admin's password: readable by its owner only.
        _write_private(self.properties_path, "# Generated by localkafka\n" + "\n".join(lines) + "\n")
        self.log4j_path.write_text(_log4j2_xml(self.logs_dir))
        self.tools_log4j_path.write_text(_TOOLS_LOG4J2_XML)

    def start_format(
        self, dist: KafkaDistribution, cluster_id: str, scram: tuple[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Begin formatting the storage dir (a short-lived JVM); caller waits.
        scram: a user and password whose SCRAM credential the metadata log
        starts with (the only way to have one before any broker runs)."""
        command = [
            *_java_command(dist, self.tools_log4j_path, self.logs_dir, "64m", "256m"),
            dist.storage_tool_main,
            "format",
            "--cluster-id",
            cluster_id,
            "--config",
            str(self.properties_path),
        ]
        if scram is not None:
            command += ["--add-scram", f"{SCRAM_MECHANISM}=[name={scram[0]},password={scram[1]}]"]
        with (self.logs_dir / "format.log").open("wb") as out:
            return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    def start(self, dist: KafkaDistribution, heap_min: str, heap_max: str) -> None:
        if self.is_alive:
            return
        # A killed JVM's threads may hold its sockets a moment after it is "dead".
        self.check_ports_free(grace=10.0 if self.reap_stale_process() else 0.0)
        command = [
            *_parent_death_prefix(),
            *_java_command(dist, self.log4j_path, self.logs_dir, heap_min, heap_max),
            dist.server_main,
            str(self.properties_path),
        ]
        self._close_stdout()
        # Appended, so a restart keeps the earlier run's JVM-level messages.
        self._stdout = (self.logs_dir / "stdout.log").open("ab")
        # Own session/process group: Ctrl-C in a terminal reaches only us, and
        # we can signal the whole group on stop.
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.home,
        )
        # Our pid too: only a JVM whose owner has died is "stale" (see below).
        self.pid_path.write_text(f"{self._process.pid} {os.getpid()}\n")
        self.should_run = True
        log.debug("node %d started, pid %d", self.node_id, self._process.pid)

    def terminate(self) -> None:
        """Ask for a graceful (controlled) shutdown without waiting."""
        self.should_run = False
        if self._process is not None and self._process.poll() is None:
            _signal_group(self._process.pid, signal.SIGTERM)

    def wait_stopped(self, deadline: float) -> None:
        """Wait until the JVM exits, SIGKILLing it once deadline passes."""
        process = self._process
        if process is None:
            return
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("node %d ignored SIGTERM; killing pid %d", self.node_id, process.pid)
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        # The JVM may have left helper processes in its group: make sure not.
        _signal_group(process.pid, signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)
        self._close_stdout()

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> None:
        self.terminate()
        self.wait_stopped(time.monotonic() + timeout)

    def kill(self) -> None:
        """SIGKILL the node, as a crash would (for chaos tests)."""
        self.should_run = False
        if self._process is not None and self._process.poll() is None:
            _signal_group(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self.wait_stopped(time.monotonic())

    def check_ports_free(self, grace: float = 0.0) -> None:
        """Raise PortInUseError unless both ports are free (within grace seconds)."""
        deadline = time.monotonic() + grace
        for port in (self.broker_port, self.controller_port):
            while True:
                try:
                    _check_port_free(port)
                    break
                except PortInUseError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)

    def reap_stale_process(self) -> bool:
        """Kill a JVM that an earlier run left behind on this node's config.

        Only if the process that started it is gone: a JVM whose owner lives
        (say ``python -m localkafka run`` in another terminal) is left alone,
        and the port check then reports the clash.
        """
        try:
            pid, owner = (int(word) for word in self.pid_path.read_text().split())
        except (OSError, ValueError):
            return False
        if self._process is not None and self._process.pid == pid:
            return False
        if _process_alive(owner):
            return False
        killed = False
        if _is_running_with_arg(pid, str(self.properties_path)):
            killed = True
            log.warning("killing stale Kafka JVM pid %d from an earlier run", pid)
            _signal_group(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _is_running_with_arg(pid, str(self.properties_path)):
                if time.monotonic() > deadline:
                    raise KafkaStartError(f"stale Kafka JVM pid {pid} would not die")
                time.sleep(0.05)
        self.pid_path.unlink(missing_ok=True)
        return killed

    def log_tail(self, lines: int = 40) -> str:
        code = self.returncode
        state = "not started" if self._process is None else ("running" if code is None else f"exit code {code}")
        parts = [f"--- node {self.node_id} ({self.address}): {state}"]
        for name, count in (("server.log", lines), ("stdout.log", 15), ("format.log", 30)):
            path = self.logs_dir / name
            if path.exists() and path.stat().st_size:
                parts.append(f"--- {path} (last lines)\n{tail(path, count)}")
        return "\n".join(parts)

    def _close_stdout(self) -> None:
        if self._stdout is not None:
            self._stdout.close()
            self._stdout = None

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.is_alive else "stopped"
        return f"KafkaNode({self.node_id}, {self.address}, {state})"


class KafkaCluster:
    """A Kafka cluster of ``brokers`` combined broker+controller nodes on loopback.

    Usage::

        with KafkaCluster(brokers=1, port=9092) as kafka:
            producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})

    Chaos hooks for multi-node clusters: kill(node_id), stop_node(node_id),
    start_node(node_id), restart(node_id); node ids are 1..brokers.
    """

    is_external = False

    def __init__(
        self,
        brokers: int | None = None,
        port: int | None = None,
        data_dir: Path | str | None = None,
        *,
        num_partitions: int = 1,
        version: str | None = None,
        fresh: bool = True,
        heap_min: str = JVM_HEAP_MIN,
        heap_max: str = JVM_HEAP_MAX,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT_S,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT_S,
        extra_config: Mapping[str, str] | None = None,
        sasl: bool = False,
        admin_properties: Path | None = None,
    ) -> None:
        """
        brokers: node count (default ``$OMS_BROKERS`` or 1); each node is both
            broker and KRaft controller, so 3 gives a 3-voter quorum.
        port: first broker port (default ``$OMS_KAFKA_PORT`` or 9092).
        data_dir: root for jars and logs (default ``$OMS_DATA_DIR`` or <repo>/.oms-data).
        fresh: wipe this cluster's data on start; False keeps topics across runs.
        extra_config: server.properties entries added to (or overriding) ours.
        sasl: clients must log in with SASL/SCRAM-SHA-512 and are allowed only
            what ACLs grant them (`allow.everyone.if.no.acl.found=false`); the
            controller listener takes SASL/PLAIN (KRaft controllers cannot use
            SCRAM: its credentials live in the metadata they serve). The admin
            super user's client properties: `admin_properties` (default
            `<data_dir>/kafka/admin.properties`; tests give one of their own).
        """
        self.brokers = brokers if brokers is not None else settings.broker_count()
        if self.brokers < 1:
            raise ValueError(f"brokers must be >= 1, not {self.brokers}")
        self.port = port if port is not None else settings.kafka_port()
        self.data_root = Path(data_dir).resolve() if data_dir else settings.data_dir()
        self.num_partitions = num_partitions
        self.version = version or settings.kafka_version()
        self.fresh = fresh
        self.heap_min = heap_min
        self.heap_max = heap_max
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.extra_config = dict(extra_config or {})
        self.sasl = sasl
        self.admin_properties_path = admin_properties or self.data_root / "kafka" / "admin.properties"
        self._admin_password: str | None = None
        self.home = self.data_root / "kafka" / str(self.port)
        self.nodes = [
            KafkaNode(
                node_id=i + 1,
                broker_port=self.port + 2 * i,
                controller_port=self.port + 2 * i + 1,
                home=self.home / f"node-{i + 1}",
            )
            for i in range(self.brokers)
        ]
        self.cluster_id: str | None = None
        self._dist: KafkaDistribution | None = None

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.address for node in self.nodes)

    @property
    def is_running(self) -> bool:
        return any(node.is_alive for node in self.nodes)

    @property
    def client_properties(self) -> dict[str, str]:
        """What a client needs besides the bootstrap servers to be the admin
        (nothing without sasl); known once the cluster has started."""
        if not self.sasl:
            return {}
        if self._admin_password is None:
            raise RuntimeError("start() the cluster first: its admin password is made or read then")
        return {
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": SCRAM_MECHANISM,
            "sasl.username": ADMIN_USER,
            "sasl.password": self._admin_password,
        }

    def node(self, node_id: int) -> KafkaNode:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KeyError(f"no node {node_id}; nodes are 1..{len(self.nodes)}")

    # Whole-cluster lifecycle ----------------------------------------------
    def start(self) -> KafkaCluster:
        """Install if needed, format storage, start every node, wait until ready."""
        if self.is_running:
            return self
        self._dist = install(self.version, self.data_root)
        started = time.monotonic()
        deadline = started + self.startup_timeout
        _live_clusters.add(self)
        try:
            reaped = [node.reap_stale_process() for node in self._stale_nodes()]
            # Before wiping anything: never delete the data of a live broker.
            for node in self.nodes:
                node.check_ports_free(grace=10.0 if any(reaped) else 0.0)
            if self.fresh:
                shutil.rmtree(self.home, ignore_errors=True)
            else:
                self._check_kept_data_fits()
            self._prepare_storage(deadline)
            for node in self.nodes:
                node.start(self._dist, self.heap_min, self.heap_max)
            _wait_until_ready(
                self.bootstrap_servers, self.brokers, deadline, self._raise_if_dead, properties=self.client_properties
            )
        except BaseException as error:
            # Never leave half a cluster running behind an exception (or Ctrl-C).
            # Before stop(), so exit codes are the real ones; only once a broker
            # JVM ran, or we would show an older run's logs.
            logs = self._log_tails() if any(n.pid is not None for n in self.nodes) else ""
            self.stop()
            if isinstance(error, (KeyboardInterrupt, PortInUseError)):
                raise
            raise KafkaStartError(
                f"Kafka {self.version} did not start at {self.bootstrap_servers}: {_describe(error)}\n{logs}".rstrip()
            ) from (None if isinstance(error, KafkaStartError) else error)
        log.info(
            "Kafka %s ready at %s in %.1fs",
            self.version,
            self.bootstrap_servers,
            time.monotonic() - started,
        )
        return self

    def stop(self) -> None:
        """Graceful stop of every node (SIGTERM), SIGKILL after stop_timeout."""
        # Signal all first so the nodes shut down in parallel.
        for node in self.nodes:
            node.terminate()
        deadline = time.monotonic() + self.stop_timeout
        for node in self.nodes:
            node.wait_stopped(deadline)
        _live_clusters.discard(self)

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until every live node is in the metadata and transactions work."""
        running = [node.address for node in self.nodes if node.should_run]
        deadline = time.monotonic() + (timeout or self.startup_timeout)
        try:
            _wait_until_ready(
                self.bootstrap_servers,
                len(running),
                deadline,
                self._raise_if_dead,
                running,
                properties=self.client_properties,
            )
        except KafkaStartError as error:
            raise KafkaStartError(f"{error}\n{self._log_tails()}") from None

    # Single-node hooks for chaos tests ------------------------------------
    def kill(self, node_id: int) -> None:
        """SIGKILL one node; the rest keep running."""
        self.node(node_id).kill()

    def stop_node(self, node_id: int) -> None:
        self.node(node_id).stop(self.stop_timeout)

    def start_node(self, node_id: int, timeout: float | None = None) -> None:
        """(Re)start a stopped or killed node, keeping its data, and wait for it."""
        if self._dist is None:
            raise RuntimeError("start() the cluster before starting single nodes")
        self.node(node_id).start(self._dist, self.heap_min, self.heap_max)
        _live_clusters.add(self)
        self.wait_ready(timeout)

    def restart(self, node_id: int, timeout: float | None = None) -> None:
        self.stop_node(node_id)
        self.start_node(node_id, timeout)

    # Context manager -------------------------------------------------------
    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"KafkaCluster({self.bootstrap_servers!r}, nodes={self.nodes!r})"

    # Internals ---------------------------------------------------------------
    def _stale_nodes(self) -> list[KafkaNode]:
        """Nodes of any earlier cluster at this port, including larger ones."""
        known = {node.home for node in self.nodes}
        extra = [KafkaNode(0, 0, 0, path) for path in sorted(self.home.glob("node-*")) if path not in known]
        return [*self.nodes, *extra]

    def _check_kept_data_fits(self) -> None:
        """Kept data only works with the node count that wrote it (the KRaft
        quorum and internal topics' replicas are baked into it)."""
        try:
            kept = json.loads(self.topology_path.read_text())
            written_by = int(kept["brokers"])
        except (OSError, ValueError, KeyError, TypeError):
            return  # nothing kept yet
        if written_by != self.brokers:
            raise KafkaStartError(
                f"{self.home} holds the data of a {written_by}-node cluster, so it cannot "
                f"start with {self.brokers}; start fresh (no --keep-data) to wipe it"
            )
        if bool(kept.get("sasl", False)) != self.sasl:
            raise KafkaStartError(
                f"{self.home} holds the data of a cluster {'with' if kept.get('sasl') else 'without'} SASL, so it"
                f" cannot start {'with' if self.sasl else 'without'} it; start fresh (no --keep-data) to wipe it"
            )

    @property
    def topology_path(self) -> Path:
        return self.home / "cluster.json"

    def _prepare_storage(self, deadline: float) -> None:
        assert self._dist is not None
        existing = {cid for node in self.nodes if (cid := node.cluster_id()) is not None}
        if len(existing) > 1:
            raise KafkaStartError(f"nodes under {self.home} disagree on cluster id: {existing}")
        cluster_id = existing.pop() if existing else _new_cluster_id()
        self.cluster_id = cluster_id
        self.topology_path.parent.mkdir(parents=True, exist_ok=True)
        self.topology_path.write_text(
            json.dumps({"brokers": self.brokers, "cluster_id": cluster_id, "sasl": self.sasl}) + "\n"
        )
        scram = None
        if self.sasl:
            self._admin_password = self._kept_admin_password() if existing else secrets.token_urlsafe(24)
            scram = (ADMIN_USER, self._admin_password)
            self._write_admin_properties()
        for node in self.nodes:
            node.write_config(self._server_properties(node))
        formatting = [
            (node, node.start_format(self._dist, cluster_id, scram)) for node in self.nodes if not node.is_formatted()
        ]
        try:
            for node, process in formatting:
                try:
                    code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    code = None
                if code != 0:
                    raise KafkaStartError(
                        f"formatting storage of node {node.node_id} failed "
                        + ("(timed out)" if code is None else f"(exit {code})")
                        + f"; end of {node.logs_dir / 'format.log'}:\n"
                        + tail(node.logs_dir / "format.log", 30)
                    )
        finally:
            # On any error (or Ctrl-C) no storage tool JVM may outlive us.
            for _, process in formatting:
                if process.poll() is None:
                    process.kill()
                    process.wait()

    def _kept_admin_password(self) -> str:
        """The admin password of a kept SASL cluster: its credential is in the
        metadata log, so the password written at format time must be reused."""
        try:
            kept = dict(
                line.split("=", 1) for line in self.admin_properties_path.read_text().splitlines() if "=" in line
            )
        except OSError:
            kept = {}
        if kept.get("bootstrap.servers") != self.bootstrap_servers or not kept.get("sasl.password"):
            raise KafkaStartError(
                f"{self.home} holds a SASL cluster whose admin password is not in {self.admin_properties_path};"
                " start fresh (no --keep-data) to wipe it"
            )
        return kept["sasl.password"]

    def _write_admin_properties(self) -> None:
        properties = {"bootstrap.servers": self.bootstrap_servers, **self.client_properties}
        _write_private(
            self.admin_properties_path,
            "# The admin (super user) of the local Kafka: librdkafka client properties, for operators.\n"
            + "".join(f"{key}={value}\n" for key, value in properties.items()),
        )

    def _security_properties(self) -> dict[str, str]:
        """SASL listeners and the authorizer (sasl=True): clients and brokers
        log in with SCRAM-SHA-512 on the client listener, brokers log in to
        the controllers with PLAIN (a static user: the controllers cannot look
        up SCRAM credentials in the metadata they are the source of)."""
        password = self._admin_password
        scram_login = "org.apache.kafka.common.security.scram.ScramLoginModule"
        plain_login = "org.apache.kafka.common.security.plain.PlainLoginModule"
        return {
            "listener.security.protocol.map": "CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
            "inter.broker.listener.name": "SASL_PLAINTEXT",
            "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.sasl_plaintext.sasl.enabled.mechanisms": SCRAM_MECHANISM,
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            f"listener.name.sasl_plaintext.{SCRAM_MECHANISM.lower()}.sasl.jaas.config": (
                f'{scram_login} required username="{ADMIN_USER}" password="{password}";'
            ),
            "listener.name.controller.plain.sasl.jaas.config": (
                f'{plain_login} required username="{ADMIN_USER}" password="{password}" user_{ADMIN_USER}="{password}";'
            ),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{ADMIN_USER}",
        }

    def _server_properties(self, node: KafkaNode) -> dict[str, str]:
        count = len(self.nodes)
        replication = min(count, 3)
        # With three or more nodes ask for two in-sync copies, so one crash
        # loses no acknowledged write yet writes still go on; below that,
        # anything above 1 would block writes whenever a node is down.
        min_isr = 2 if count >= 3 else 1
        voters = ",".join(f"{n.node_id}@{HOST}:{n.controller_port}" for n in self.nodes)
        properties = {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            # Static quorum: every node knows all voters, so a plain format with
            # a shared cluster id suffices for 1 or 3 nodes alike.
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://{HOST}:{node.broker_port},CONTROLLER://{HOST}:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{node.broker_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(node.data_dir),
            "num.partitions": str(self.num_partitions),
            "default.replication.factor": str(replication),
            "min.insync.replicas": str(min_isr),
            "offsets.topic.replication.factor": str(replication),
            "transaction.state.log.replication.factor": str(replication),
            "transaction.state.log.min.isr": str(min_isr),
            "share.coordinator.state.topic.replication.factor": str(replication),
            "share.coordinator.state.topic.min.isr": str(min_isr),
            # Tests join groups constantly; the 3s default delay only slows them.
            "group.initial.rebalance.delay.ms": "0",
            # Topics are created explicitly, so a typo fails instead of creating one.
            "auto.create.topics.enable": "false",
        }
        if self.sasl:
            client = "SASL_PLAINTEXT"
            properties["listeners"] = f"{client}://{HOST}:{node.broker_port},CONTROLLER://{HOST}:{node.controller_port}"
            properties["advertised.listeners"] = f"{client}://{HOST}:{node.broker_port}"
            properties.update(self._security_properties())
        properties.update(self.extra_config)
        return properties

    def _raise_if_dead(self) -> None:
        dead = [node for node in self.nodes if node.has_crashed]
        if dead:
            names = ", ".join(f"node {n.node_id} (exit {n.returncode})" for n in dead)
            raise KafkaStartError(f"Kafka exited on its own: {names}")

    def _log_tails(self) -> str:
        lines = max(15, 40 // len(self.nodes))  # keep a 3-node report readable
        return "\n".join(node.log_tail(lines) for node in self.nodes)


# Readiness -------------------------------------------------------------------
def _wait_until_ready(
    bootstrap: str,
    expected_brokers: int,
    deadline: float,
    raise_if_dead: Callable[[], None],
    probe_addresses: list[str] | None = None,
    properties: Mapping[str, str] | None = None,
) -> None:
    """Wait for metadata listing every broker, then for working group and
    transaction coordinators (the first use of each creates an internal topic).

    probe_addresses: the host:port listeners expected up (default: all of
    bootstrap); a node killed on purpose is left out.
    """
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient

    # Port first: cheap, and keeps librdkafka from logging "connection refused".
    for address in probe_addresses or bootstrap.split(","):
        host, _, port = address.rpartition(":")
        while not _port_accepts(host, int(port)):
            raise_if_dead()
            _check_deadline(deadline, f"{address} to accept connections", bootstrap)
            time.sleep(0.1)

    client_config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "logger": logging.getLogger("localkafka.client"),
        "log.connection.close": False,
        **(properties or {}),
    }
    admin = AdminClient(client_config)
    last_error: object = None
    while True:
        raise_if_dead()
        try:
            metadata = admin.list_topics(timeout=_slice(deadline))
            if len(metadata.brokers) >= expected_brokers:
                break
            last_error = f"metadata lists {len(metadata.brokers)} of {expected_brokers} brokers"
        except KafkaException as error:
            last_error = error
        _check_deadline(deadline, f"broker metadata ({_describe(last_error)})", bootstrap)
        time.sleep(0.2)

    # Describing any group makes the broker create __consumer_offsets; done
    # here it takes ~0.4s, while a first consumer left to do it waits ~3s in
    # librdkafka's coordinator retry back-off.
    while True:
        raise_if_dead()
        future = admin.describe_consumer_groups(["localkafka-ready"])["localkafka-ready"]
        try:
            future.result(timeout=_slice(deadline))
            break
        except (KafkaException, TimeoutError) as error:
            last_error = error
        _check_deadline(deadline, f"the group coordinator ({_describe(last_error)})", bootstrap)
        time.sleep(0.1)

    # A metadata answer does not mean __transaction_state can be created and
    # led yet; exactly-once code needs that, so prove it with a real producer.
    transactional = {**client_config, "transactional.id": f"localkafka-ready-{uuid.uuid4().hex}"}
    producer = Producer(transactional)
    while True:
        raise_if_dead()
        try:
            producer.init_transactions(_slice(deadline))
            return
        except KafkaException as error:
            last_error = error
            if not error.args[0].retriable():
                producer = Producer(transactional)  # a fatal error spoils this one
        _check_deadline(deadline, f"the transaction coordinator ({_describe(last_error)})", bootstrap)
        time.sleep(0.2)


def _slice(deadline: float, longest: float = 2.0) -> float:
    """Timeout for one blocking client call: short, because librdkafka's
    blocking calls hold off Python signal handlers (Ctrl-C) until they return."""
    return max(0.5, min(longest, deadline - time.monotonic()))


def _describe(error: BaseException | object) -> str:
    """An error's message, or its type when the message is empty (e.g. TimeoutError())."""
    text = str(error)
    return text if text else type(error).__name__


def _check_deadline(deadline: float, waiting_for: str, bootstrap: str) -> None:
    if time.monotonic() > deadline:
        raise KafkaStartError(f"timed out waiting for {waiting_for} at {bootstrap}")


# Processes, ports and files --------------------------------------------------
def _java_command(dist: KafkaDistribution, log4j: Path, logs_dir: Path, heap_min: str, heap_max: str) -> list[str]:
    return [
        _java_executable(),
        f"-Xms{heap_min}",
        f"-Xmx{heap_max}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j}",
        f"-Dkafka.logs.dir={logs_dir}",
        "-cp",
        dist.classpath,
    ]


def _java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise KafkaStartError("no 'java' on PATH and JAVA_HOME unset; Kafka 4 needs Java 17+")
    return java


def _parent_death_prefix() -> list[str]:
    """Make the JVM die with us even if we are SIGKILLed and cannot clean up.

    The kernel's parent-death signal fires when the *thread* that forked
    exits, so only use it from the main thread (where that means the process).
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None or threading.current_thread() is not threading.main_thread():
        return []
    return [setpriv, "--pdeathsig", "KILL", "--"]


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the JVM leads its own group (start_new_session)
    except (ProcessLookupError, PermissionError):
        pass


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_running_with_arg(pid: int, arg: str) -> bool:
    """True if pid is alive (not a zombie) and has arg on its command line."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[0]
    return state != "Z" and arg.encode() in cmdline


def _write_private(path: Path, text: str) -> None:
    """Writes a file only its owner can read (created so: never readable by others, not even for a moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def _check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Same option the JVM uses, so a port in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as error:
            raise PortInUseError(
                f"port {HOST}:{port} is in use ({error.strerror}); stop whatever holds it "
                f"or pick another base port with {settings.ENV_PORT}"
            ) from None


def _port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _new_cluster_id() -> str:
    # Kafka's Uuid.toString: URL-safe base64 of 16 random bytes, no padding;
    # Kafka also avoids a leading '-' so the id never looks like a CLI flag.
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _log4j2_xml(logs_dir: Path) -> str:
    server_log = xml_escape(str(logs_dir / "server.log"))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by localkafka: broker logs go to a file, never to our stdout. -->
<Configuration status="WARN">
  <Appenders>
    <RollingFile name="server" fileName="{server_log}" filePattern="{server_log}.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <Policies><SizeBasedTriggeringPolicy size="50 MB"/></Policies>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="server"/></Root>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="org.apache.kafka.clients.NetworkClient" level="WARN"/>
  </Loggers>
</Configuration>
"""


# For the short-lived storage tool: warnings only, to its captured output
# (format.log), so server.log holds nothing but the broker's own lines.
_TOOLS_LOG4J2_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="stderr" target="SYSTEM_ERR"><PatternLayout pattern="%p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers>
    <Root level="WARN"><AppenderRef ref="stderr"/></Root>
  </Loggers>
</Configuration>
"""


# Clusters this process started (strong refs: a dropped object must still be
# stopped); stopped gracefully at interpreter exit if still running.
_live_clusters: set[KafkaCluster] = set()


@atexit.register
def _stop_live_clusters() -> None:
    for cluster in list(_live_clusters):
        try:
            cluster.stop()
        except Exception:
            log.exception("stopping %r at exit failed", cluster)
