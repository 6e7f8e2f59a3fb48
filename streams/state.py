"""State stores as processors see them: one namespace per input partition.

A processor's state is split by input partition, so that the state of a
partition can move with it to another instance. Writes of the batch in
progress are held in memory (`BatchState`) until the batch's transaction
commits; then they become the changelog records (written inside the
transaction) and the local store's new contents (written after it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Protocol


class StateBackend(Protocol):
    """Durable key-value storage of committed state, per partition."""

    def get(self, partition: int, key: bytes) -> bytes | None: ...

    def scan(self, partition: int, prefix: bytes, until: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """Entries under prefix in key order, lazily; with until, only keys below it."""
        ...

    def apply(
        self,
        changes: Mapping[tuple[int, bytes], bytes | None],
        checkpoints: Mapping[int, int],
    ) -> None:
        """Writes changes (None deletes) and changelog checkpoints atomically."""
        ...

    def checkpoint(self, partition: int) -> int:
        """The changelog offset up to which the partition's state is local."""
        ...

    def checkpointed_at_ms(self, partition: int) -> int:
        """When that checkpoint was written (epoch milliseconds, 0 if never)."""
        ...

    def clear(self, partition: int) -> None:
        """Forgets the partition's state and checkpoint."""
        ...

    def close(self) -> None: ...


class MemoryBackend:
    """StateBackend in a dict, for tests and the in-memory driver."""

    def __init__(self) -> None:
        self._data: dict[tuple[int, bytes], bytes] = {}
        self._checkpoints: dict[int, int] = {}
        self._checkpointed_at: dict[int, int] = {}

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self._data.get((partition, key))

    def scan(self, partition: int, prefix: bytes, until: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        items = sorted(
            (k, v)
            for (p, k), v in self._data.items()
            if p == partition and k.startswith(prefix) and (until is None or k < until)
        )
        return iter(items)

    def apply(
        self,
        changes: Mapping[tuple[int, bytes], bytes | None],
        checkpoints: Mapping[int, int],
    ) -> None:
        for pk, value in changes.items():
            if value is None:
                self._data.pop(pk, None)
            else:
                self._data[pk] = value
        self._checkpoints.update(checkpoints)
        now_ms = int(time.time() * 1000)
        self._checkpointed_at.update({p: now_ms for p in checkpoints})

    def checkpoint(self, partition: int) -> int:
        return self._checkpoints.get(partition, 0)

    def checkpointed_at_ms(self, partition: int) -> int:
        return self._checkpointed_at.get(partition, 0)

    def clear(self, partition: int) -> None:
        for pk in [pk for pk in self._data if pk[0] == partition]:
            del self._data[pk]
        self._checkpoints.pop(partition, None)
        self._checkpointed_at.pop(partition, None)

    def close(self) -> None:
        pass


class BatchState:
    """The uncommitted writes of one batch, over the committed backend."""

    def __init__(self, backend: StateBackend) -> None:
        self.backend = backend
        self.changes: dict[tuple[int, bytes], bytes | None] = {}

    def partition(self, partition: int) -> PartitionState:
        return PartitionState(self, partition)

    def discard(self) -> None:
        self.changes.clear()


class PartitionState:
    """What a processor step reads and writes: one partition's state.

    Writes are staged per record: `commit()` moves them into the batch,
    `rollback()` drops them, so a record that fails half-way leaves no trace.
    """

    def __init__(self, batch: BatchState, partition: int) -> None:
        self._batch = batch
        self.partition = partition
        self._staged: dict[bytes, bytes | None] = {}
        # The timer key whose entry punctuation is handling (Timers.due sets
        # it), so that a failure there dead-letters that entry alone.
        self.handing_out: bytes | None = None

    def get(self, key: bytes) -> bytes | None:
        if key in self._staged:
            return self._staged[key]
        pk = (self.partition, key)
        if pk in self._batch.changes:
            return self._batch.changes[pk]
        return self._batch.backend.get(self.partition, key)

    def put(self, key: bytes, value: bytes) -> None:
        self._staged[key] = value

    def delete(self, key: bytes) -> None:
        self._staged[key] = None

    def scan(self, prefix: bytes, until: bytes | None = None) -> list[tuple[bytes, bytes]]:
        """Committed and pending entries under prefix, in key order; with
        until, only keys below it (so a time index reads just what is due)."""

        def wanted(key: bytes) -> bool:
            return key.startswith(prefix) and (until is None or key < until)

        merged = dict(self._batch.backend.scan(self.partition, prefix, until))
        for (p, key), value in self._batch.changes.items():
            if p == self.partition and wanted(key):
                merged[key] = value  # type: ignore[assignment]
        for key, value in self._staged.items():
            if wanted(key):
                merged[key] = value  # type: ignore[assignment]
        return sorted((k, v) for k, v in merged.items() if v is not None)

    def commit(self) -> None:
        for key, value in self._staged.items():
            self._batch.changes[(self.partition, key)] = value
        self._staged.clear()

    def rollback(self) -> None:
        self._staged.clear()
