"""KeyedLocks: concurrent placements of one order id are serialized, others are not."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from gateway.app.concurrency import KeyedLocks


def run(scenario: Callable[[KeyedLocks], Awaitable[None]]) -> None:
    async def main() -> None:
        await asyncio.wait_for(scenario(KeyedLocks()), timeout=5)

    asyncio.run(main())


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class Tracker:
    """Counts how many holders are inside at once."""

    def __init__(self, locks: KeyedLocks) -> None:
        self.locks = locks
        self.inside = 0
        self.most_inside = 0
        self.order: list[str] = []

    async def use(self, key: str, name: str) -> None:
        async with self.locks.hold(key):
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
            self.order.append(name)
            await asyncio.sleep(0.001)
            self.inside -= 1


def test_holders_of_one_key_take_turns_in_arrival_order() -> None:
    async def scenario(locks: KeyedLocks) -> None:
        tracker = Tracker(locks)
        await asyncio.gather(*(tracker.use("order-1", f"h{i}") for i in range(5)))

        assert tracker.most_inside == 1
        assert tracker.order == [f"h{i}" for i in range(5)]

    run(scenario)


def test_holders_of_different_keys_run_at_the_same_time() -> None:
    async def scenario(locks: KeyedLocks) -> None:
        tracker = Tracker(locks)
        await asyncio.gather(*(tracker.use(f"order-{i}", f"h{i}") for i in range(5)))

        assert tracker.most_inside == 5

    run(scenario)


def test_a_waiter_cancelled_in_the_queue_does_not_block_the_key() -> None:
    async def scenario(locks: KeyedLocks) -> None:
        release = asyncio.Event()

        async def holder() -> None:
            async with locks.hold("k"):
                await release.wait()

        first = asyncio.create_task(holder())
        await settle()
        cancelled = asyncio.create_task(holder())
        await settle()
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        release.set()
        await first

        async with locks.hold("k"):
            pass

    run(scenario)


def test_a_failure_inside_releases_the_key() -> None:
    async def scenario(locks: KeyedLocks) -> None:
        try:
            async with locks.hold("k"):
                raise RuntimeError("placement failed")
        except RuntimeError:
            pass

        await asyncio.wait_for(Tracker(locks).use("k", "next"), 1)

    run(scenario)


def test_locks_are_dropped_once_nobody_holds_or_waits() -> None:
    async def scenario(locks: KeyedLocks) -> None:
        tracker = Tracker(locks)
        await asyncio.gather(*(tracker.use(f"order-{i % 3}", f"h{i}") for i in range(9)))

        # No public count exists; the promise is that no per-key state outlives its users.
        assert locks._locks == {} and dict(locks._users) == {}

    run(scenario)
