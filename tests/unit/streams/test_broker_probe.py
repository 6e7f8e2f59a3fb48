"""The broker probe tells whether the cluster answered lately."""

from __future__ import annotations

from streams.kafka import BrokerProbe
from tests.support.clock import FakeClock


def test_a_cluster_that_does_not_answer_becomes_unreachable_after_the_grace() -> None:
    clock = FakeClock(1000.0)
    # Nothing listens on port 1: every metadata request fails.
    probe = BrokerProbe("127.0.0.1:1", timeout_s=0.2, clock=clock)
    try:
        assert probe.reachable(within_s=5), "the start counts as an answer"
        assert not probe.probe_once()
        clock.now += 4
        assert probe.reachable(within_s=5)
        clock.now += 2
        assert not probe.reachable(within_s=5)
    finally:
        probe.close()
