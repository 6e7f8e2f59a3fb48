"""The contract between a processor's pure step and whatever drives it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from streams.records import Output, Record
from streams.state import PartitionState


class Processor(Protocol):
    """Consume -> step -> produce, with no I/O of its own.

    `name` names its consumer group, transactional ids and changelog topic.
    All `inputs` must have the same partition count: partition N of every
    input, and of the changelog, belong to the same task.
    """

    name: str
    inputs: tuple[str, ...]
    stateful: bool

    def process(self, record: Record, state: PartitionState) -> Iterable[Output]:
        """Handles one record; raises PoisonRecord for one it never can."""
        ...

    def punctuate(self, now_ms: int, state: PartitionState) -> Iterable[Output]:
        """Periodic work for one owned partition (timeouts, expiry)."""
        ...


def changelog_topic(processor_name: str) -> str:
    return f"{processor_name}-changelog"
