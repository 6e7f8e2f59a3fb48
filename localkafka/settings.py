"""What localkafka takes from the configuration model (topology/config.py).

Read when called (not at import), so tests and the CLI can change os.environ
before creating a cluster.
"""

from __future__ import annotations

from pathlib import Path

from topology.config import Config, env_name

# One pinned Kafka release: the broker, the storage tool and the cache key.
KAFKA_VERSION: str = Config.model_fields["kafka_version"].default
DEFAULT_PORT: int = Config.model_fields["kafka_port"].default

ENV_DATA_DIR = env_name("data_dir")  # root of every local state folder (git-ignored)
ENV_PORT = env_name("kafka_port")  # first broker's listener port
ENV_BROKERS = env_name("brokers")  # how many combined broker+controller nodes
ENV_BOOTSTRAP = env_name("kafka_bootstrap")  # use this existing cluster, start nothing
ENV_VERSION = env_name("kafka_version")  # override the pinned Kafka version (at your own risk)


def data_dir() -> Path:
    return Config.load().data_dir.expanduser().resolve()


def kafka_port() -> int:
    return Config.load().kafka_port


def broker_count() -> int:
    return Config.load().brokers


def kafka_version() -> str:
    return Config.load().kafka_version


def external_bootstrap() -> str | None:
    return Config.load().kafka_bootstrap
