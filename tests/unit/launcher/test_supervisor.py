"""The supervisor counts the services it restarts."""

from __future__ import annotations

import time

from launcher.supervisor import EX_CONFIG, ServiceSpec, Supervisor


def _exited(supervisor: Supervisor, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while supervisor.pids() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_every_death_it_restarts_is_counted_but_not_a_configuration_error() -> None:
    supervisor = Supervisor(
        [
            ServiceSpec("crashes", ("-c", "raise SystemExit(1)")),
            ServiceSpec("misconfigured", ("-c", f"raise SystemExit({EX_CONFIG})")),
        ]
    )
    supervisor.start()
    try:
        assert supervisor.restarts == 0
        _exited(supervisor)
        supervisor.supervise_once()
        assert supervisor.restarts == 1
        assert supervisor.misconfigured == ["misconfigured"]
    finally:
        supervisor.stop()
