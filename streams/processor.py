"""The contract between a processor's pure step and whatever drives it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from streams.codecs import Codec
from streams.records import Output, PoisonRecord, Record
from streams.state import PartitionState

T = TypeVar("T")


class Processor:
    """Consume -> step -> produce, with no I/O of its own.

    `name` names its consumer group, transactional ids and changelog topic;
    `inputs` are the topics it reads, `outputs` those it writes (besides
    dead letters and its changelog: what its Kafka user is allowed).
    All `inputs` must have the same partition count: partition N of every
    input, and of the changelog, belong to the same task. Subclasses set
    `name`, `inputs` (and `stateful` if they keep state) and implement
    `process`; `punctuate` does nothing unless overridden.
    """

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...] = ()
    stateful: bool = False

    def process(self, record: Record, state: PartitionState) -> Iterable[Output]:
        """Handles one record; raises PoisonRecord for one it never can."""
        raise NotImplementedError

    def punctuate(self, now_ms: int, state: PartitionState) -> Iterable[Output]:
        """Periodic work for one owned partition (timeouts, expiry)."""
        return ()


def decode(record: Record, codec: Codec[T]) -> T:
    """The record's value through codec; a value it cannot read makes the
    record poison (a dead letter whose reason is the codec's error)."""
    try:
        return codec.decode(record.value or b"")
    except ValueError as exc:
        raise PoisonRecord(str(exc)) from exc
