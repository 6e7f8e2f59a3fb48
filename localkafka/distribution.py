"""Fetch the Kafka broker jars from Maven Central into a per-version cache.

There is no Kafka tarball on the registries this project may use, but the
broker is published to Maven Central as ``org.apache.kafka:kafka_2.13``. We
let Maven resolve it and its runtime dependencies into
``$OMS_DATA_DIR/kafka-dist/<version>/libs`` and run it with ``java -cp libs/*``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import settings

# Kafka 4.x logs through slf4j 1.7 -> log4j2, but the Maven artifact only
# depends on log4j-core/api; the distribution tarball adds this binding itself.
# Without it slf4j falls back to a no-op logger and the broker log stays empty.
LOG4J_VERSION = "2.24.3"

# Pinned so a cold install does not depend on whichever plugin version the
# local Maven happens to default to.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

MVN_TIMEOUT_S = 15 * 60

# Written last, after every jar is in place: its presence means "complete".
MARKER_NAME = "install-complete.json"

# Entry points we need, and where they have lived across Kafka 4.x releases.
SERVER_MAIN_CANDIDATES = ("kafka.Kafka",)
STORAGE_TOOL_CANDIDATES = ("kafka.tools.StorageTool", "org.apache.kafka.tools.StorageTool")


class KafkaInstallError(RuntimeError):
    """The Kafka jars could not be fetched or are unusable."""


@dataclass(frozen=True)
class KafkaDistribution:
    """A complete, verified set of Kafka jars for one version."""

    version: str
    home: Path
    server_main: str
    storage_tool_main: str

    @property
    def libs_dir(self) -> Path:
        return self.home / "libs"

    @property
    def classpath(self) -> str:
        # The JVM expands "dir/*" to every jar in dir itself.
        return str(self.libs_dir / "*")


def distribution_home(version: str | None = None, data_dir: Path | None = None) -> Path:
    version = version or settings.kafka_version()
    return (data_dir or settings.data_dir()) / "kafka-dist" / version


def installed(version: str | None = None, data_dir: Path | None = None) -> KafkaDistribution | None:
    """The cached distribution if a previous install completed, else None."""
    home = distribution_home(version, data_dir)
    marker = home / MARKER_NAME
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    jars = info.get("jars", [])
    if not jars or not all((home / "libs" / jar).is_file() for jar in jars):
        return None  # someone deleted jars by hand: treat as not installed
    return KafkaDistribution(
        version=info["version"],
        home=home,
        server_main=info["server_main"],
        storage_tool_main=info["storage_tool_main"],
    )


def install(
    version: str | None = None,
    data_dir: Path | None = None,
    *,
    force: bool = False,
) -> KafkaDistribution:
    """Return the cached distribution, fetching it with Maven first if needed.

    Safe to call concurrently from several processes: a file lock serialises
    installs and the second caller finds the first one's marker.
    """
    version = version or settings.kafka_version()
    home = distribution_home(version, data_dir)
    if not force and (dist := installed(version, data_dir)) is not None:
        return dist

    home.mkdir(parents=True, exist_ok=True)
    with _file_lock(home.parent / f"{version}.lock"):
        if not force and (dist := installed(version, data_dir)) is not None:
            return dist
        return _install_locked(version, home)


def _install_locked(version: str, home: Path) -> KafkaDistribution:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaInstallError(
            "Maven ('mvn') is not on PATH, so the Kafka jars cannot be fetched. "
            "Install it (e.g. 'apt-get install maven') or set "
            f"{settings.ENV_BOOTSTRAP} to use an already running Kafka."
        )

    (home / MARKER_NAME).unlink(missing_ok=True)
    staging = home / "libs.partial"
    shutil.rmtree(staging, ignore_errors=True)
    log_path = home / "install.log"
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="localkafka-mvn-") as work:
        pom = Path(work) / "pom.xml"
        pom.write_text(_pom_xml(version))
        command = [
            mvn,
            "--batch-mode",
            "--no-transfer-progress",
            "--file",
            str(pom),
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ]
        with log_path.open("w") as log:
            log.write("$ " + " ".join(command) + "\n")
            log.flush()
            try:
                result = subprocess.run(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=work,
                    timeout=MVN_TIMEOUT_S,
                )
            except subprocess.TimeoutExpired:
                raise KafkaInstallError(
                    f"mvn did not finish fetching Kafka {version} within {MVN_TIMEOUT_S}s; see {log_path}"
                ) from None
    if result.returncode != 0:
        raise KafkaInstallError(
            f"mvn failed (exit {result.returncode}) fetching "
            f"org.apache.kafka:kafka_2.13:{version}. Last lines of {log_path}:\n" + tail(log_path, 30)
        )

    jars = sorted(p.name for p in staging.glob("*.jar"))
    server_main = _find_class(staging, SERVER_MAIN_CANDIDATES)
    storage_main = _find_class(staging, STORAGE_TOOL_CANDIDATES)
    if server_main is None or storage_main is None:
        raise KafkaInstallError(
            f"Kafka {version} jars in {staging} lack the expected entry points "
            f"(server: {SERVER_MAIN_CANDIDATES}, storage tool: {STORAGE_TOOL_CANDIDATES})"
        )

    libs = home / "libs"
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    info = {
        "version": version,
        "server_main": server_main,
        "storage_tool_main": storage_main,
        "jars": jars,
        "seconds": round(time.monotonic() - started, 1),
    }
    tmp_marker = home / (MARKER_NAME + ".tmp")
    tmp_marker.write_text(json.dumps(info, indent=2) + "\n")
    os.replace(tmp_marker, home / MARKER_NAME)
    return KafkaDistribution(version, home, server_main, storage_main)


def _pom_xml(version: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by localkafka: only used to resolve the Kafka broker's jars. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>oms.localkafka</groupId>
  <artifactId>kafka-dist</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{version}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{LOG4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
"""


def _find_class(libs: Path, candidates: tuple[str, ...]) -> str | None:
    """First candidate class name present in any jar under libs."""
    wanted = {name.replace(".", "/") + ".class": name for name in candidates}
    found: set[str] = set()
    for jar in libs.glob("kafka*.jar"):
        with zipfile.ZipFile(jar) as archive:
            found.update(wanted[n] for n in archive.namelist() if n in wanted)
    return next((name for name in candidates if name in found), None)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tail(path: Path, lines: int = 40) -> str:
    """Last lines of a text file, or a note that it is missing."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])
