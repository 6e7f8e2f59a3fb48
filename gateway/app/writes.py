"""Writing to the log: the one place a failed write becomes Unavailable, and
the one idempotent write every command that creates something goes through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from gateway.app.concurrency import KeyedLocks, outlive_cancellation
from gateway.app.errors import AlreadyExists, PartitionMoved, Unavailable
from gateway.app.ports import EventLog, EventLogError, Position, ReadModel, TopicPartition

T = TypeVar("T")


async def record(log: EventLog, what: str, topic: str, key: bytes, value: bytes) -> Position:
    """Appends a record; a log that cannot take it answers Unavailable (the
    client retries; writes are idempotent)."""
    try:
        return await log.publish(topic, key, value)
    except EventLogError as exc:
        raise Unavailable(f"the {what} could not be recorded: {exc}") from exc


@dataclass(frozen=True)
class Record(Generic[T]):
    """What a write appends. `as_written` is what it means to the caller, and
    the answer should the partition move once the record is in the log
    (None: the write is not settled until its wait ends, and the call goes
    on at the new owner)."""

    topic: str
    key: bytes
    value: bytes
    as_written: T | None = None


@dataclass(frozen=True)
class Written(Generic[T]):
    value: T
    # Where the record went; None if an earlier write was found instead.
    position: Position | None
    created: bool


class IdempotentWrites:
    """Writes a record once per id. Every call for one id is served by one
    gateway instance (the owner of the id's partition; the api layer sends
    the others there), where concurrent calls for the id are serialized and
    each looks the id up before writing, so a retry or a duplicate finds
    the first write instead of making a second."""

    def __init__(self, log: EventLog, reads: ReadModel) -> None:
        self._log = log
        self._reads = reads
        self._locks = KeyedLocks()

    async def write(
        self,
        what: str,
        key: str,
        owner: TopicPartition,
        make: Callable[[], Record[T]],
        settle: Callable[[Position, Record[T]], Awaitable[T]],
        find: Callable[[], Awaitable[T | None]] | None = None,
        same: Callable[[T], bool] = lambda _existing: True,
        reused: Callable[[], AlreadyExists] | None = None,
    ) -> Written[T]:
        """Under `key`'s lock: `find` an earlier write (the same content
        answers it, not created; other content raises `reused()`); else check
        that `owner` is still here, append the record `make()` builds, and return
        what `settle` reads back once the read model has it.

        The lookup, write and wait run as a task of their own, which a
        cancelled call (say, a client's deadline) does not abandon: the id's
        lock is held until the write is settled, so a retry never writes it
        twice."""

        async def once() -> Written[T]:
            async with self._locks.hold(f"{what}/{key}"):
                existing = None if find is None else await find()
                if existing is not None:
                    if not same(existing):
                        raise reused() if reused is not None else AlreadyExists(f"{what} {key} exists", "ID_REUSED")
                    return Written(existing, None, created=False)
                written = make()
                # The lookup awaited; the partition may have moved meanwhile, and
                # its new owner may be writing this very id: only the owner writes.
                if not self._reads.holds(owner):
                    raise PartitionMoved(owner)
                position = await record(self._log, what, written.topic, written.key, written.value)
                try:
                    return Written(await settle(position, written), position, created=True)
                except PartitionMoved:
                    if written.as_written is None:
                        raise
                    # Recorded all the same, by this call: a retry at the new
                    # owner would answer "not created". Reads there wait for the
                    # record (or for this position) before they answer.
                    return Written(written.as_written, position, created=True)

        return await outlive_cancellation(once())
