"""Platform settings: class defaults, then environment, then arguments."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def instance_number(instance_id: str) -> int:
    """The instance id as a number (0 for a non-numeric id)."""
    return int(instance_id) if instance_id.isdigit() else 0


def _env_int(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    raw = (os.environ if environ is None else environ).get(name)
    return int(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    """Everything a service needs to know about its surroundings."""

    bootstrap_servers: str = "127.0.0.1:9092"
    data_dir: Path = REPO_ROOT / ".oms-data"
    grpc_port: int = 50051
    # Where peers reach this gateway instance to forward calls. It must not
    # change across restarts: peers learn it from the view group, whose
    # static members keep the address they first joined with.
    peer_port: int = 0
    advertised_host: str = "127.0.0.1"
    # Base of the metrics ports: each process adds 10 * instance + its kind's
    # slot (streams/metrics.py); 0 picks any free port.
    metrics_port: int = 9400
    partitions: int = 3
    replication_factor: int = 1
    # How long a busy processor gathers a batch: short, because each batch's
    # commit is on the latency path (an idle one commits what it gets at once).
    commit_interval_ms: int = 20
    # Records per transaction, at most: large batches drain a backlog fastest,
    # but cost memory that is not all given back (at 10,000 the aggregator
    # stayed at 152 MiB after a 1,000,000-order drain; bench/RESULTS.md).
    max_batch: int = 5_000
    validation_timeout_ms: int = 30_000
    # Unary calls one gateway instance serves at once; more are shed.
    max_calls: int = 1000
    instance_id: str = "0"
    # Prefix of every topic and group name, so that test runs and side-by-side
    # platforms on one cluster never see each other's records.
    namespace: str = ""
    extra_kafka: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from environment variables (os.environ unless given)."""
        env = os.environ if environ is None else environ

        def number(name: str, default: int) -> int:
            return _env_int(name, default, env)

        port = number("OMS_KAFKA_PORT", 9092)
        values: dict[str, object] = {
            "bootstrap_servers": env.get("OMS_KAFKA_BOOTSTRAP") or f"127.0.0.1:{port}",
            "data_dir": Path(env.get("OMS_DATA_DIR") or cls.data_dir),
            "grpc_port": number("OMS_GRPC_PORT", cls.grpc_port),
            "peer_port": number("OMS_PEER_PORT", number("OMS_GRPC_PORT", cls.grpc_port) + 1)
            + instance_number(env.get("OMS_INSTANCE_ID") or cls.instance_id),
            "advertised_host": env.get("OMS_ADVERTISED_HOST") or cls.advertised_host,
            "metrics_port": number("OMS_METRICS_PORT", cls.metrics_port),
            "partitions": number("OMS_PARTITIONS", cls.partitions),
            # A local cluster of N brokers replicates everything N ways (up to 3).
            "replication_factor": number(
                "OMS_REPLICATION_FACTOR", min(3, number("OMS_BROKERS", cls.replication_factor))
            ),
            "commit_interval_ms": number("OMS_COMMIT_INTERVAL_MS", cls.commit_interval_ms),
            "max_batch": number("OMS_MAX_BATCH", cls.max_batch),
            "validation_timeout_ms": number("OMS_VALIDATION_TIMEOUT_MS", cls.validation_timeout_ms),
            "max_calls": number("OMS_MAX_CALLS", cls.max_calls),
            "instance_id": env.get("OMS_INSTANCE_ID") or cls.instance_id,
            "namespace": env.get("OMS_NAMESPACE", cls.namespace),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def topic(self, name: str) -> str:
        return f"{self.namespace}{name}"
