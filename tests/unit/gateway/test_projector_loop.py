"""The projection loop against a scripted consumer: what it tells the
notifier across a rebalance (the real consumer's side is in the integration
tests)."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable
from pathlib import Path

from gateway.adapters.projector import Projector
from gateway.adapters.view import View
from streams.records import Record

TP = ("orders", 0)
INPUTS = ("orders",)


class ScriptedConsumer:
    """Brings no records; every partition it has stands at offset 5. A
    rebalance is run inside the next poll, as librdkafka runs its callbacks."""

    def __init__(self, on_assigned: Callable[[list[tuple[str, int]]], None], **_: object) -> None:
        self._on_assigned = on_assigned
        self._assigned: list[tuple[str, int]] = []
        self.rebalances: queue.Queue[list[tuple[str, int]]] = queue.Queue()

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        try:
            self._assigned = self.rebalances.get(timeout=0.01)
            self._on_assigned(self._assigned)
        except queue.Empty:
            pass
        return []

    def positions(self) -> dict[tuple[str, int], int]:
        return {tp: 5 for tp in self._assigned}

    def end_offsets(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        return {tp: 5 for tp in partitions}

    def close(self) -> None:
        pass


def test_a_partition_assigned_again_has_its_position_reported_again(tmp_path: Path) -> None:
    reported: queue.Queue[dict[tuple[str, int], int]] = queue.Queue()
    assignments: list[tuple[frozenset[str], frozenset[tuple[str, int]]]] = []
    consumers: list[ScriptedConsumer] = []

    def consumer(**kwargs: object) -> ScriptedConsumer:
        consumers.append(ScriptedConsumer(**kwargs))  # type: ignore[arg-type]
        return consumers[-1]

    def on_assigned(topics: frozenset[str], partitions: frozenset[tuple[str, int]]) -> None:
        assignments.append((topics, partitions))

    view = View(tmp_path / "view")
    projector = Projector(
        "projector",
        consumer,
        view,
        INPUTS,
        lambda records, caught_up: {},  # type: ignore[arg-type]
        on_progress=lambda changes, positions: reported.put(positions),
        on_assigned=on_assigned,
    )
    projector.start()
    try:
        consumers[0].rebalances.put([TP])
        assert reported.get(timeout=5) == {TP: 5}
        # Away and back: the position has not moved, but the notifier forgot
        # it with the move, and waits on it must hear it again.
        consumers[0].rebalances.put([])
        consumers[0].rebalances.put([TP])
        assert reported.get(timeout=5) == {TP: 5}
    finally:
        projector.stop()
        view.close()

    assert assignments == [
        (frozenset(INPUTS), frozenset({TP})),
        (frozenset(INPUTS), frozenset()),
        (frozenset(INPUTS), frozenset({TP})),
    ]
