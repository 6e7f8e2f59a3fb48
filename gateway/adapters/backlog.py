"""The order workflow's backlog on `orders`, measured on a thread of its own
every `interval_s` (never on a call's path): the end of each partition, and
how far each of the workflow's consumer groups has committed there."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from gateway.app.ports import TopicPartition, WorkflowBacklog
from streams.kafka import GroupLag, StreamsError

log = logging.getLogger(__name__)

EndOffsets = Callable[[Sequence[TopicPartition]], Mapping[TopicPartition, int]]


class KafkaWorkflowBacklog(WorkflowBacklog):
    """The most records any group of the workflow has yet to read: its
    slowest part is what an order waits for. A measurement older than
    `stale_after_s` (the cluster does not answer) is no longer known, and
    then nothing is shed for it: calls fail on their own when Kafka is gone."""

    def __init__(
        self,
        groups: Sequence[GroupLag],
        partitions: Sequence[TopicPartition],
        end_offsets: EndOffsets,
        interval_s: float = 0.2,
        stale_after_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._groups = list(groups)
        self._partitions = list(partitions)
        self._end_offsets = end_offsets
        self._interval_s = interval_s
        self._stale_after_s = stale_after_s
        self._clock = clock
        # (when, records behind): replaced whole, so the event loop reads it freely.
        self._measured: tuple[float, int] | None = None
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="workflow-backlog", daemon=True)

    def start(self) -> KafkaWorkflowBacklog:
        self._thread.start()
        return self

    def measure(self) -> int:
        """Asks the cluster now (blocking)."""
        ends = self._end_offsets(self._partitions)
        return max(sum(group.behind(ends).values()) for group in self._groups)

    def _follow(self) -> None:
        failing = False
        while not self._closed.is_set():
            try:
                behind = self.measure()
                # Stamped when it is known: a slow cluster makes a measurement late, not stale.
                self._measured = (self._clock(), behind)
                if failing:
                    log.info("the order workflow's backlog is measured again")
                failing = False
            except StreamsError as exc:
                if not failing:  # once, not every interval
                    log.warning("cannot measure the order workflow's backlog: %s", exc)
                failing = True
            self._closed.wait(self._interval_s)

    def records_behind(self) -> int | None:
        measured = self._measured
        if measured is None or self._clock() - measured[0] > self._stale_after_s:
            return None
        return measured[1]

    def close(self) -> None:
        self._closed.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)
        if not self._thread.is_alive():  # else it still uses them, and the process ends anyway
            for group in self._groups:
                group.close()
