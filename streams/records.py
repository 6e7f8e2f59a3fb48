"""What processors consume and produce: plain values, no Kafka types."""

from __future__ import annotations

from typing import NamedTuple

# Named tuples, not frozen dataclasses: as immutable, and a third of the cost
# to make (a frozen dataclass sets each field through object.__setattr__),
# which a runner pays several times per record.


class Record(NamedTuple):
    """One consumed record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


class Output(NamedTuple):
    """One record to produce. Without a partition the key decides it."""

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None = None


class PoisonRecord(Exception):
    """A record that can never be processed (undecodable, impossible values).

    The runner sends it to the dead-letter topic with this reason and goes on.
    """
