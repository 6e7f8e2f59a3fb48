"""The one module that talks to plyvel (LevelDB).

LevelDB admits one process per database, so every process opens its own,
under a directory named after the service and its instance id.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import plyvel

_STATE = b"s"
_CHECKPOINT = b"c"


def _partition_prefix(kind: bytes, partition: int) -> bytes:
    return kind + struct.pack(">I", partition)


def open_db(path: Path) -> plyvel.DB:
    path.mkdir(parents=True, exist_ok=True)
    return plyvel.DB(str(path), create_if_missing=True)


class KeyValueDb:
    """A LevelDB database as plain keys and values, written in atomic,
    synchronous batches (for state outside a processor's changelog)."""

    def __init__(self, path: Path) -> None:
        self._db = open_db(path)

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def scan(self, prefix: bytes, until: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """Entries under prefix in key order, lazily; with until, only keys below it."""
        if until is None:
            yield from self._db.iterator(prefix=prefix)
            return
        for key, value in self._db.iterator(start=prefix, stop=until):
            if key.startswith(prefix):
                yield key, value

    def write(self, puts: Mapping[bytes, bytes] = {}, deletes: Iterable[bytes] = (), sync: bool = True) -> None:
        """Deletes, then puts, in one atomic batch (synced to disk unless sync=False)."""
        with self._db.write_batch(transaction=True, sync=sync) as batch:
            for key in deletes:
                batch.delete(key)
            for key, value in puts.items():
                batch.put(key, value)

    def close(self) -> None:
        self._db.close()


class LevelDbBackend:
    """StateBackend on LevelDB: state and changelog checkpoints in one batch."""

    def __init__(self, path: Path) -> None:
        self._db = open_db(path)

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self._db.get(_partition_prefix(_STATE, partition) + key)

    def scan(self, partition: int, prefix: bytes, until: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        base = _partition_prefix(_STATE, partition)
        skip = len(base)
        if until is None:
            entries = self._db.iterator(prefix=base + prefix)
        else:
            entries = self._db.iterator(start=base + prefix, stop=base + until)
        for key, value in entries:
            if key[skip:].startswith(prefix):
                yield key[skip:], value

    def apply(
        self,
        changes: Mapping[tuple[int, bytes], bytes | None],
        checkpoints: Mapping[int, int],
    ) -> None:
        with self._db.write_batch(transaction=True) as batch:
            for (partition, key), value in changes.items():
                full = _partition_prefix(_STATE, partition) + key
                if value is None:
                    batch.delete(full)
                else:
                    batch.put(full, value)
            now_ms = int(time.time() * 1000)
            for partition, offset in checkpoints.items():
                batch.put(_partition_prefix(_CHECKPOINT, partition), struct.pack(">qq", offset, now_ms))

    def _checkpoint(self, partition: int) -> tuple[int, int]:
        raw = self._db.get(_partition_prefix(_CHECKPOINT, partition))
        return struct.unpack(">qq", raw) if raw else (0, 0)

    def checkpoint(self, partition: int) -> int:
        return self._checkpoint(partition)[0]

    def checkpointed_at_ms(self, partition: int) -> int:
        return self._checkpoint(partition)[1]

    def clear(self, partition: int) -> None:
        with self._db.write_batch(transaction=True) as batch:
            for key in self._db.iterator(prefix=_partition_prefix(_STATE, partition), include_value=False):
                batch.delete(key)
            batch.delete(_partition_prefix(_CHECKPOINT, partition))

    def close(self) -> None:
        self._db.close()
