"""Typed views of a partition's state: named stores and one timer index.

A `Store` is a declaration (a name, a key codec, a value codec) that reads
and writes one partition's state under the prefix `name/`:

    PENDING = Store("pending", STR, protobuf(PendingVerdict))
    pending = PENDING.get(state, order_id)
    PENDING.put(state, order_id, pending)

`Timers` is a time index in the same state: entries sorted by due time,
`due()` hands back (and removes) those whose time has come. `TimerKeys` is
its key layout alone, pure, so that a timer index kept elsewhere (a LevelDB
database of its own) shares it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from streams.codecs import BYTES, Codec, PartsCodec
from streams.state import PartitionState

K = TypeVar("K")
V = TypeVar("V")
E = TypeVar("E")


class Store(Generic[K, V]):
    """Keys `name/<encoded key>` holding encoded values, in a PartitionState."""

    def __init__(self, name: str, key: Codec[K], value: Codec[V]) -> None:
        if not name or "/" in name:
            raise ValueError(f"a store name is a non-empty word without '/': {name!r}")
        self.name = name
        self.prefix = name.encode() + b"/"
        self.key_codec = key
        self.value_codec = value

    def raw_key(self, key: K) -> bytes:
        """The state key of `key` (what a changelog record is keyed by)."""
        return self.prefix + self.key_codec.encode(key)

    def get(self, state: PartitionState, key: K) -> V | None:
        raw = state.get(self.raw_key(key))
        return None if raw is None else self.value_codec.decode(raw)

    def has(self, state: PartitionState, key: K) -> bool:
        return state.get(self.raw_key(key)) is not None

    def put(self, state: PartitionState, key: K, value: V) -> None:
        state.put(self.raw_key(key), self.value_codec.encode(value))

    def delete(self, state: PartitionState, key: K) -> None:
        state.delete(self.raw_key(key))

    def scan(self, state: PartitionState, *head: str) -> Iterator[tuple[K, V]]:
        """Entries in key order; for a PartsCodec key, those whose key starts
        with the given parts (`scan(state, order_id)` of ("order", "payment") keys)."""
        prefix = self.prefix
        if head:
            if not isinstance(self.key_codec, PartsCodec):
                raise TypeError(f"store {self.name!r} has no key parts to scan by")
            prefix += self.key_codec.encode_prefix(head)
        skip = len(self.prefix)
        for raw_key, raw_value in state.scan(prefix):
            yield self.key_codec.decode(raw_key[skip:]), self.value_codec.decode(raw_value)


class TimerKeys:
    """The layout of a time index: `<prefix><due ms, 15 digits>/<entry>`.

    Keys sort by due time, and `until(now_ms)` bounds a scan to what is due.
    """

    DIGITS = 15

    def __init__(self, prefix: bytes = b"due/") -> None:
        self.prefix = prefix

    def key(self, due_ms: int, entry: bytes) -> bytes:
        if not 0 <= due_ms < 10**self.DIGITS:
            raise ValueError(f"due time out of range: {due_ms}")
        return self.prefix + b"%015d/" % due_ms + entry

    def parse(self, key: bytes) -> tuple[int, bytes]:
        """(due ms, entry) of a key."""
        if not key.startswith(self.prefix):
            raise ValueError(f"not a timer key: {key!r}")
        stamp = key[len(self.prefix) : len(self.prefix) + self.DIGITS]
        separator = len(self.prefix) + self.DIGITS
        if not stamp.isdigit() or key[separator : separator + 1] != b"/":
            raise ValueError(f"not a timer key: {key!r}")
        return int(stamp), key[separator + 1 :]

    def until(self, now_ms: int) -> bytes:
        """The first key not yet due at now_ms (exclusive scan bound)."""
        return self.prefix + b"%015d" % (now_ms + 1)


class Timers(Generic[E]):
    """Entries scheduled for a time, in a PartitionState; one index per name.

    Persisted as `TimerKeys` keys with empty values, so each schedule or
    cancel is one changelog record.
    """

    def __init__(self, name: str = "due", entry: Codec[E] = BYTES) -> None:  # type: ignore[assignment]
        self.keys = TimerKeys(name.encode() + b"/")
        self.entry_codec = entry

    def schedule(self, state: PartitionState, due_ms: int, entry: E) -> None:
        state.put(self.keys.key(due_ms, self.entry_codec.encode(entry)), b"")

    def cancel(self, state: PartitionState, due_ms: int, entry: E) -> None:
        state.delete(self.keys.key(due_ms, self.entry_codec.encode(entry)))

    def move(self, state: PartitionState, was_due_ms: int | None, due_ms: int, entry: E) -> None:
        """Reschedules an entry (scheduled at was_due_ms, if not None) to due_ms."""
        if was_due_ms == due_ms:
            return
        if was_due_ms is not None:
            self.cancel(state, was_due_ms, entry)
        self.schedule(state, due_ms, entry)

    def due(self, state: PartitionState, now_ms: int) -> Iterator[tuple[int, E]]:
        """(due ms, entry) of every entry due at or before now_ms, earliest
        first; each is removed from the index as it is handed out. While
        one is handled, `state.handing_out` names its key: if the handling
        raises, run_batch dead-letters that entry and goes on with the rest."""
        for key, _ in state.scan(self.keys.prefix, until=self.keys.until(now_ms)):
            state.handing_out = key
            due_ms, entry = self.keys.parse(key)
            if due_ms > now_ms:
                break
            state.delete(key)
            yield due_ms, self.entry_codec.decode(entry)
        state.handing_out = None
