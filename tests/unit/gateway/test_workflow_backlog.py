"""The order workflow's backlog as the gateway measures it (on a thread of
its own): the slowest group counts, a failed measurement keeps the last one
until it is stale, and then the backlog is not known. Over fake groups; the
groups themselves on the broker: tests/integration/test_admission.py."""

from __future__ import annotations

import time
from collections.abc import Mapping

from gateway.adapters.backlog import KafkaWorkflowBacklog
from gateway.bootstrap import DECIDING_PROCESSORS, PIPELINE_RUNNER
from streams.kafka import StreamsError
from tests.support.clock import FakeClock
from topology.config import Config
from topology.registry import AGGREGATOR, CHECKS, PIPELINE, WORKFLOW, service
from topology.topics import Topics

ORDERS = [("orders", 0), ("orders", 1)]


class FakeGroup:
    """A group `lag` records behind on every partition, or failing to say."""

    def __init__(self, lag: int) -> None:
        self.lag = lag
        self.failing = False
        self.closed = False

    def behind(self, ends: Mapping[tuple[str, int], int]) -> dict[tuple[str, int], int]:
        if self.failing:
            raise StreamsError("committed offsets: timed out")
        return {tp: min(self.lag, end) for tp, end in ends.items()}

    def close(self) -> None:
        self.closed = True


def test_the_slowest_group_is_the_backlog() -> None:
    backlog = KafkaWorkflowBacklog(
        [FakeGroup(3), FakeGroup(40), FakeGroup(0)],  # type: ignore[list-item]
        ORDERS,
        lambda partitions: {tp: 1000 for tp in partitions},
    )

    assert backlog.measure() == 80  # 40 on each of two partitions


def test_it_is_measured_in_the_background_kept_while_measuring_fails_and_unknown_once_stale() -> None:
    group, clock = FakeGroup(7), FakeClock(100.0)
    backlog = KafkaWorkflowBacklog(
        [group],  # type: ignore[list-item]
        ORDERS,
        lambda partitions: {tp: 1000 for tp in partitions},
        interval_s=0.01,
        stale_after_s=5.0,
        clock=clock,
    )
    assert backlog.records_behind() is None, "not measured yet"
    backlog.start()
    try:
        deadline = time.monotonic() + 10
        while backlog.records_behind() != 14 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert backlog.records_behind() == 14

        group.failing = True
        time.sleep(0.05)
        clock.now += 4.0
        assert backlog.records_behind() == 14, "the last measurement, while fresh"
        clock.now += 2.0
        assert backlog.records_behind() is None, "stale: not known"

        group.failing, group.lag = False, 1
        deadline = time.monotonic() + 10
        while backlog.records_behind() != 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert backlog.records_behind() == 2
    finally:
        backlog.close()
    assert group.closed


class SlowGroup(FakeGroup):
    """Answers only after `takes_s` of the clock: a loaded cluster."""

    def __init__(self, lag: int, clock: FakeClock, takes_s: float) -> None:
        super().__init__(lag)
        self.clock, self.takes_s = clock, takes_s

    def behind(self, ends: Mapping[tuple[str, int], int]) -> dict[tuple[str, int], int]:
        self.clock.now += self.takes_s
        return super().behind(ends)


def test_a_measurement_slower_than_the_stale_window_counts_from_when_it_is_known() -> None:
    clock = FakeClock(100.0)
    backlog = KafkaWorkflowBacklog(
        [SlowGroup(7, clock, takes_s=6.0)],  # type: ignore[list-item]
        ORDERS,
        lambda partitions: {tp: 1000 for tp in partitions},
        interval_s=60,  # one measurement in this test's time
        stale_after_s=5.0,
        clock=clock,
    ).start()
    try:
        deadline = time.monotonic() + 10
        while backlog.records_behind() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert backlog.records_behind() == 14
    finally:
        backlog.close()


def test_the_gateway_names_the_groups_whose_backlog_admits_orders_as_the_workflow_names_them() -> None:
    # Layout separate: the processors that decide each order, each reading `orders`.
    assert set(DECIDING_PROCESSORS) == {spec.name for spec in (*CHECKS.values(), AGGREGATOR)}
    settings = Config.load({})
    assert all(Topics().orders in spec.build(settings).inputs for spec in (*CHECKS.values(), AGGREGATOR))
    # Layout combined: the pipeline, which hosts them all.
    assert PIPELINE_RUNNER == PIPELINE and set(WORKFLOW) <= set(service(PIPELINE).processors)
