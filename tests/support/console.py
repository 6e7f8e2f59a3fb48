"""The web console as `make run` starts it (`python -m console`), before a
test's platform, on a free port."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

from tests.support.platform import Platform
from tests.support.ports import free_port
from topology.registry import services


@contextlib.contextmanager
def running_console(platform: Platform, timeout_s: float = 30.0) -> Iterator[str]:
    """Yields the console's base URL once it answers; its live view reads
    every service's metrics endpoint of the platform."""
    port = free_port()
    urls = ",".join(platform.metrics_url(s.kind, path="") for s in services(platform.settings.layout))
    env = {**platform.env, "OMS_CONSOLE_PORT": str(port), "OMS_CONSOLE_METRICS": urls}
    process = subprocess.Popen([sys.executable, "-m", "console"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{base}/login", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, "the console exited"
                assert time.monotonic() < deadline, f"the console did not serve within {timeout_s} s"
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
