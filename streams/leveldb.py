"""The one module that talks to plyvel (LevelDB).

LevelDB admits one process per database, so every process opens its own,
under a directory named after the service and its instance id.

A database that will not open because it is damaged (LevelDB reports
corruption or an invalid argument: garbage in CURRENT or a MANIFEST, files of
an incompatible version) is moved aside, renamed `<name>.broken-<UTC time>`
and kept for inspection, and an empty one takes its place, with an ERROR log
line naming both and what rebuilds it. Everything kept here is a cache of
Kafka, so the empty database is rebuilt from there (see each caller). A
database that is busy (its LOCK held by another process) or unreadable for
lack of permission is an I/O error, not damage: that is raised, never moved.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import plyvel

_STATE = b"s"
_CHECKPOINT = b"c"


def _partition_prefix(kind: bytes, partition: int) -> bytes:
    return kind + struct.pack(">I", partition)


log = logging.getLogger(__name__)


def _damaged(exc: plyvel.Error) -> bool:
    if isinstance(exc, plyvel.CorruptionError):
        return True
    if isinstance(exc, plyvel.IOError):
        return False  # a lock held by another process, permissions: not ours to move
    return "Invalid argument" in str(exc)


def open_db(path: Path, rebuilt_from: str = "Kafka") -> plyvel.DB:
    """Opens (or creates) the database at path; a damaged one is moved aside
    and replaced by an empty one, which `rebuilt_from` fills again."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        return plyvel.DB(str(path), create_if_missing=True)
    except plyvel.Error as exc:
        if not _damaged(exc):
            raise
        aside = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
        path.rename(aside)
        log.error(
            "LevelDB %s will not open (%s): moved aside to %s; starting empty, rebuilt from %s",
            path,
            exc,
            aside,
            rebuilt_from,
        )
        path.mkdir(parents=True, exist_ok=True)
        return plyvel.DB(str(path), create_if_missing=True)


class KeyValueDb:
    """A LevelDB database as plain keys and values, written in atomic,
    synchronous batches (for state outside a processor's changelog)."""

    def __init__(self, path: Path, rebuilt_from: str = "Kafka") -> None:
        self._db = open_db(path, rebuilt_from)

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
    """StateBackend on LevelDB: state and changelog checkpoints in one batch.

    Damaged, it starts empty: every checkpoint is 0, so the runner restores
    each partition it is assigned from its changelog, from offset 0."""

    def __init__(self, path: Path) -> None:
        self._db = open_db(path, "the changelog (restored from offset 0)")

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
