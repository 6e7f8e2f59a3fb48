"""Starts the services as child processes, restarts any that die, and stops
them all (SIGTERM, then SIGKILL) on request."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# Children read this and ask the kernel to stop them if the supervisor dies
# (see streams.service.die_with_parent). It is done in the child, not with a
# preexec_fn: forking a process that runs gRPC threads aborts in gRPC's fork
# handlers.
SUPERVISED_ENV = "OMS_SUPERVISOR_PID"
# A child that exits with this (sysexits' EX_CONFIG) would fail the same way
# again: it is not restarted.
EX_CONFIG = 78


@dataclass
class ServiceSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _Child:
    spec: ServiceSpec
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = 0.0


class Supervisor:
    # A service that ran this long before it died starts again at once.
    STABLE_AFTER_S = 30.0

    def __init__(self, specs: Sequence[ServiceSpec], base_env: Mapping[str, str] | None = None) -> None:
        self._children = [_Child(spec) for spec in specs]
        self._base_env = dict(base_env if base_env is not None else os.environ)
        # Tests supervise from a background thread while they kill services.
        self._lock = threading.RLock()
        self._watching = threading.Event()
        self._watcher: threading.Thread | None = None
        # Services that exited on a configuration error, and stay stopped.
        self.misconfigured: list[str] = []
        self._restarts = 0

    def _start(self, child: _Child) -> None:
        env = {**self._base_env, **child.spec.env, SUPERVISED_ENV: str(os.getpid())}
        child.process = subprocess.Popen([sys.executable, *child.spec.argv], env=env)
        child.started_at = time.monotonic()
        log.info("started %s (pid %d)", child.spec.name, child.process.pid)

    def start(self) -> None:
        with self._lock:
            for child in self._children:
                self._start(child)

    def supervise_once(self) -> None:
        """Restarts services that exited, with a growing back-off."""
        with self._lock:
            now = time.monotonic()
            for child in self._children:
                process = child.process
                if process is not None and process.poll() is None:
                    continue
                if process is not None and process.returncode == EX_CONFIG:
                    if child.spec.name not in self.misconfigured:
                        log.error("%s exited on a configuration error; not restarting it", child.spec.name)
                        self.misconfigured.append(child.spec.name)
                    continue
                if process is not None:
                    if now - child.started_at > self.STABLE_AFTER_S:
                        child.restarts = 0
                    delay = min(30.0, 2.0 ** min(child.restarts, 5))
                    log.warning(
                        "%s exited with status %s; restarting in %.0fs", child.spec.name, process.returncode, delay
                    )
                    child.process = None
                    child.restarts += 1
                    self._restarts += 1
                    child.next_start = now + delay
                elif now >= child.next_start:
                    self._start(child)

    def supervise_in_background(self, interval_s: float = 0.2) -> None:
        """Keeps supervising on a thread until stop()."""

        def watch() -> None:
            while not self._watching.wait(interval_s):
                self.supervise_once()

        self._watcher = threading.Thread(target=watch, name="supervisor", daemon=True)
        self._watcher.start()

    @property
    def restarts(self) -> int:
        """How many times, in all, a service died and was set to start again
        (counted when its death is seen, before the back-off)."""
        with self._lock:
            return self._restarts

    def pids(self) -> dict[str, int]:
        with self._lock:
            return {c.spec.name: c.process.pid for c in self._children if c.process and c.process.poll() is None}

    def stop(self, timeout_s: float = 10.0) -> None:
        self._watching.set()
        if self._watcher is not None:
            self._watcher.join()
        with self._lock:
            running = [c.process for c in self._children if c.process is not None and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("pid %d did not stop in time; killing it", process.pid)
                process.kill()
                process.wait()
