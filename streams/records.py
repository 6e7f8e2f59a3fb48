"""What processors consume and produce: plain values, no Kafka types."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Output:
    """One record to produce. Without a partition the key decides it."""

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None = None


class PoisonRecord(Exception):
    """A record that can never be processed (undecodable, impossible values).

    The runner sends it to the dead-letter topic with this reason and goes on.
    """
