"""Environment variables honoured by localkafka, and their defaults.

Every setting is read when called (not at import), so tests and the CLI can
change os.environ before creating a cluster.
"""

from __future__ import annotations

import os
from pathlib import Path

# One pinned Kafka release: the broker, the storage tool and the cache key.
KAFKA_VERSION = "4.1.1"

DEFAULT_PORT = 9092

ENV_DATA_DIR = "OMS_DATA_DIR"  # root of every local state folder (git-ignored)
ENV_PORT = "OMS_KAFKA_PORT"  # first broker's listener port
ENV_BROKERS = "OMS_BROKERS"  # how many combined broker+controller nodes
ENV_BOOTSTRAP = "OMS_KAFKA_BOOTSTRAP"  # use this existing cluster, start nothing
ENV_VERSION = "OMS_KAFKA_VERSION"  # override the pinned Kafka version (at your own risk)


def repo_root() -> Path:
    """The checkout this package lives in, or the cwd for a non-editable install."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").exists() or (here / ".git").exists():
        return here
    return Path.cwd()


def data_dir() -> Path:
    value = os.environ.get(ENV_DATA_DIR)
    return Path(value).expanduser().resolve() if value else repo_root() / ".oms-data"


def kafka_port() -> int:
    return _int_env(ENV_PORT, DEFAULT_PORT)


def broker_count() -> int:
    return _int_env(ENV_BROKERS, 1)


def kafka_version() -> str:
    return os.environ.get(ENV_VERSION) or KAFKA_VERSION


def external_bootstrap() -> str | None:
    value = os.environ.get(ENV_BOOTSTRAP, "").strip()
    return value or None


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None
