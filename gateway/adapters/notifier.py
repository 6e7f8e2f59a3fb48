"""Wakes requests when the view moves. Lives on the asyncio event loop.

The projector thread hands over each batch's changes and positions with
`call_soon_threadsafe`, so every registration, read and wake-up happens on
the loop thread, in order. A watcher registers before it reads the view:
anything applied after its read is then certain to reach its queue (an
update can also arrive twice; watchers drop what is not newer).

It also knows which partitions are here: a projector reports each
assignment. A wait or watch on a partition that has gone elsewhere ends with
PartitionMoved, whether it began before the move or after it. The peers
router asks the same place, so routing and waiting never disagree about ownership.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from gateway.app.errors import PartitionMoved

TopicPartition = tuple[str, int]
EndOffsets = Callable[[Iterable[TopicPartition]], dict[TopicPartition, int]]


class Watch(asyncio.Queue[bytes]):
    """Each new value of one view entry, in order; `get` raises
    PartitionMoved once the entry's partition has gone elsewhere."""

    def __init__(self, tp: TopicPartition | None) -> None:
        super().__init__()
        self.tp = tp
        self._moved: PartitionMoved | None = None

    def moved(self, tp: TopicPartition) -> None:
        self._moved = PartitionMoved(tp)
        self.put_nowait(b"")  # wakes a waiting get

    async def get(self) -> bytes:
        value = await super().get()
        if self._moved is not None:
            raise self._moved
        return value


class Notifier:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._watchers: dict[bytes, set[Watch]] = defaultdict(set)
        self._applied: dict[TopicPartition, int] = {}
        self._waiters: dict[TopicPartition, list[tuple[int, asyncio.Future[None]]]] = defaultdict(list)
        # Topics whose assignments a projector reports, and their partitions here.
        self._tracked: frozenset[str] = frozenset()
        self.held: frozenset[TopicPartition] = frozenset()

    def progress_threadsafe(self, changes: dict[bytes, bytes], positions: dict[TopicPartition, int]) -> None:
        """Called from the projector thread."""
        self._loop.call_soon_threadsafe(self._progress, changes, positions)

    def _progress(self, changes: dict[bytes, bytes], positions: dict[TopicPartition, int]) -> None:
        for key, value in changes.items():
            for queue in self._watchers.get(key, ()):
                queue.put_nowait(value)
        self._applied.update(positions)
        for tp, applied in positions.items():
            waiters = self._waiters.get(tp)
            if not waiters:
                continue
            still = []
            for offset, future in waiters:
                if applied >= offset:
                    if not future.done():
                        future.set_result(None)
                elif not future.done():
                    still.append((offset, future))
            self._waiters[tp] = still

    def assigned_threadsafe(self, topics: frozenset[str], partitions: frozenset[TopicPartition]) -> None:
        """Called from a projector thread on each rebalance: of `topics`,
        exactly `partitions` are here now."""
        self._loop.call_soon_threadsafe(self._assigned, topics, partitions)

    def _assigned(self, topics: frozenset[str], partitions: frozenset[TopicPartition]) -> None:
        moved = {tp for tp in self.held if tp[0] in topics} - partitions
        self._tracked |= topics
        self.held = frozenset(tp for tp in self.held if tp[0] not in topics) | partitions
        for watchers in self._watchers.values():
            for watch in watchers:
                if watch.tp in moved:
                    watch.moved(watch.tp)
        for tp in moved:
            self._applied.pop(tp, None)
            for _, future in self._waiters.pop(tp, []):
                if not future.done():
                    future.set_exception(PartitionMoved(tp))

    def here(self, tp: TopicPartition) -> bool:
        """Whether tp's view is kept here (a topic no projector reports on is)."""
        return tp[0] not in self._tracked or tp in self.held

    @contextmanager
    def watch(self, key: bytes, tp: TopicPartition | None = None) -> Iterator[Watch]:
        """Every new value of a view entry, for as long as the block runs; if
        tp, the entry's partition, moves elsewhere, the watch ends."""
        queue = Watch(tp)
        if tp is not None and not self.here(tp):
            queue.moved(tp)
        self._watchers[key].add(queue)
        try:
            yield queue
        finally:
            watchers = self._watchers.get(key)
            if watchers is not None:
                watchers.discard(queue)
                if not watchers:
                    del self._watchers[key]

    def applied(self, tp: TopicPartition) -> int:
        return self._applied.get(tp, -1)

    async def reached(self, tp: TopicPartition, next_offset: int) -> None:
        """Returns once the view has applied everything before next_offset."""
        if next_offset <= 0 or self.applied(tp) >= next_offset:
            return  # an empty partition has nothing to wait for
        if not self.here(tp):
            raise PartitionMoved(tp)
        future: asyncio.Future[None] = self._loop.create_future()
        self._waiters[tp].append((next_offset, future))
        try:
            await future
        finally:
            # Also when cancelled (asyncio cancels the future with the task).
            if not future.done() or future.cancelled():
                self._waiters[tp] = [(o, f) for o, f in self._waiters[tp] if f is not future]

    async def caught_up(self, tp: TopicPartition, end_offsets: EndOffsets) -> None:
        """Returns once the view holds everything committed to tp so far
        (its end offset now, asked off the loop)."""
        ends = await asyncio.to_thread(end_offsets, [tp])
        await self.reached(tp, ends[tp])

    def pending_waiters(self) -> int:
        return sum(len(w) for w in self._waiters.values())

    def open_watches(self) -> int:
        return sum(len(w) for w in self._watchers.values())
