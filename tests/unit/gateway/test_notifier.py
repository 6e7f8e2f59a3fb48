"""The notifier: wakes watchers and position waiters on the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from google.rpc import code_pb2

from gateway.adapters.notifier import Notifier
from gateway.api.errors import status_of
from gateway.app.errors import PartitionMoved

TP = ("orders", 0)
OTHER_TP = ("orders", 1)
TOPICS = frozenset({"orders"})


def run(scenario: Callable[[Notifier], Awaitable[None]]) -> None:
    """Runs a scenario on a fresh event loop with a notifier bound to it, under a time limit."""

    async def main() -> None:
        notifier = Notifier(asyncio.get_running_loop())
        await asyncio.wait_for(scenario(notifier), timeout=5)

    asyncio.run(main())


async def settle() -> None:
    """Lets callbacks scheduled with call_soon(_threadsafe) and woken tasks run."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_watcher_registered_before_an_update_receives_it() -> None:
    async def scenario(notifier: Notifier) -> None:
        with notifier.watch(b"o/1") as updates:
            notifier.progress_threadsafe({b"o/1": b"v1", b"o/2": b"other"}, {TP: 1})
            assert await asyncio.wait_for(updates.get(), 1) == b"v1"
            assert updates.empty()

    run(scenario)


def test_every_watcher_of_a_key_receives_each_update_in_order() -> None:
    async def scenario(notifier: Notifier) -> None:
        with notifier.watch(b"o/1") as first, notifier.watch(b"o/1") as second:
            notifier.progress_threadsafe({b"o/1": b"v1"}, {TP: 1})
            notifier.progress_threadsafe({b"o/1": b"v2"}, {TP: 2})
            await settle()
            for updates in (first, second):
                assert [updates.get_nowait(), updates.get_nowait()] == [b"v1", b"v2"]

    run(scenario)


def test_updates_from_before_the_watch_are_not_delivered() -> None:
    async def scenario(notifier: Notifier) -> None:
        notifier.progress_threadsafe({b"o/1": b"old"}, {TP: 1})
        await settle()
        with notifier.watch(b"o/1") as updates:
            await settle()
            assert updates.empty()

    run(scenario)


def test_watches_are_closed_when_their_block_exits() -> None:
    async def scenario(notifier: Notifier) -> None:
        with notifier.watch(b"o/1"), notifier.watch(b"o/1"), notifier.watch(b"o/2"):
            assert notifier.open_watches() == 3
        assert notifier.open_watches() == 0

        with pytest.raises(RuntimeError), notifier.watch(b"o/3"):
            raise RuntimeError("request failed")
        assert notifier.open_watches() == 0

    run(scenario)


def test_a_watch_in_a_cancelled_task_is_closed() -> None:
    async def scenario(notifier: Notifier) -> None:
        async def watcher() -> None:
            with notifier.watch(b"o/1") as updates:
                await updates.get()

        task = asyncio.create_task(watcher())
        await settle()
        assert notifier.open_watches() == 1

        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

        assert notifier.open_watches() == 0
        notifier.progress_threadsafe({b"o/1": b"late"}, {TP: 1})
        await settle()

    run(scenario)


def test_applied_positions_are_tracked_per_partition() -> None:
    async def scenario(notifier: Notifier) -> None:
        assert notifier.applied(TP) == -1
        notifier.progress_threadsafe({}, {TP: 4, OTHER_TP: 2})
        await settle()
        assert (notifier.applied(TP), notifier.applied(OTHER_TP)) == (4, 2)

    run(scenario)


def test_reached_waits_until_the_position_passes_the_offset() -> None:
    async def scenario(notifier: Notifier) -> None:
        reached = asyncio.create_task(notifier.reached(TP, 5))

        notifier.progress_threadsafe({}, {TP: 4})
        notifier.progress_threadsafe({}, {OTHER_TP: 9})
        await settle()
        assert not reached.done()

        notifier.progress_threadsafe({}, {TP: 5})
        await asyncio.wait_for(reached, 1)

    run(scenario)


def test_reached_resolves_when_a_position_jumps_beyond_the_offset() -> None:
    async def scenario(notifier: Notifier) -> None:
        waiters = [asyncio.create_task(notifier.reached(TP, offset)) for offset in (3, 7, 20)]
        await settle()

        notifier.progress_threadsafe({}, {TP: 10})
        await settle()

        assert [w.done() for w in waiters] == [True, True, False]
        waiters[2].cancel()
        await asyncio.gather(*waiters, return_exceptions=True)

    run(scenario)


def test_reached_returns_at_once_when_already_applied_or_nothing_to_wait_for() -> None:
    async def scenario(notifier: Notifier) -> None:
        await asyncio.wait_for(notifier.reached(TP, 0), 0.5)  # an empty partition
        notifier.progress_threadsafe({}, {TP: 3})
        await settle()
        await asyncio.wait_for(notifier.reached(TP, 3), 0.5)
        await asyncio.wait_for(notifier.reached(TP, 1), 0.5)

    run(scenario)


def test_a_cancelled_reached_is_never_resolved_later_and_others_still_are() -> None:
    async def scenario(notifier: Notifier) -> None:
        loop = asyncio.get_running_loop()
        errors: list[dict[str, object]] = []
        loop.set_exception_handler(lambda _loop, context: errors.append(context))

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(notifier.reached(TP, 5), 0.01)
        survivor = asyncio.create_task(notifier.reached(TP, 5))
        await settle()

        notifier.progress_threadsafe({}, {TP: 6})
        await asyncio.wait_for(survivor, 1)
        notifier.progress_threadsafe({}, {TP: 7})
        await settle()

        assert errors == []

    run(scenario)


def test_progress_from_another_thread_wakes_a_waiter() -> None:
    async def scenario(notifier: Notifier) -> None:
        reached = asyncio.create_task(notifier.reached(TP, 2))
        await settle()

        await asyncio.to_thread(notifier.progress_threadsafe, {}, {TP: 2})

        await asyncio.wait_for(reached, 1)

    run(scenario)


def test_a_cancelled_reached_leaves_no_waiter_behind() -> None:
    async def scenario(notifier: Notifier) -> None:
        for _ in range(3):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(notifier.reached(TP, 1_000_000), 0.001)

        # No public count of waiters exists (unlike open_watches()), so look inside.
        assert notifier.pending_waiters() == 0

    run(scenario)


def test_a_move_ends_the_waits_and_watches_of_that_partition_only() -> None:
    async def scenario(notifier: Notifier) -> None:
        notifier.assigned_threadsafe(TOPICS, frozenset({TP, OTHER_TP}))
        await settle()
        moving = asyncio.create_task(notifier.reached(TP, 5))
        staying = asyncio.create_task(notifier.reached(OTHER_TP, 5))
        with notifier.watch(b"o/1", TP) as gone, notifier.watch(b"o/2", OTHER_TP) as kept:
            notifier.assigned_threadsafe(TOPICS, frozenset({OTHER_TP}))
            await settle()

            with pytest.raises(PartitionMoved) as raised:
                await moving
            assert raised.value.tp == TP and status_of(raised.value).code == code_pb2.UNAVAILABLE
            with pytest.raises(PartitionMoved):
                await asyncio.wait_for(gone.get(), 1)
            assert notifier.applied(TP) == -1

            notifier.progress_threadsafe({b"o/2": b"v1"}, {OTHER_TP: 5})
            assert await asyncio.wait_for(kept.get(), 1) == b"v1"
            await asyncio.wait_for(staying, 1)

    run(scenario)


def test_a_wait_or_watch_begun_after_its_partition_moved_ends_at_once() -> None:
    """The call checked ownership, then awaited something (a write, the log's
    end) while the partition moved: nothing here will ever wake it."""

    async def scenario(notifier: Notifier) -> None:
        notifier.assigned_threadsafe(TOPICS, frozenset({TP, OTHER_TP}))
        notifier.assigned_threadsafe(TOPICS, frozenset({OTHER_TP}))
        await settle()

        assert not notifier.here(TP) and notifier.here(OTHER_TP)
        with pytest.raises(PartitionMoved):
            await asyncio.wait_for(notifier.reached(TP, 5), 1)
        with notifier.watch(b"o/1", TP) as gone, pytest.raises(PartitionMoved):
            await asyncio.wait_for(gone.get(), 1)

    run(scenario)


def test_a_partition_back_from_elsewhere_is_waited_on_again() -> None:
    async def scenario(notifier: Notifier) -> None:
        notifier.assigned_threadsafe(TOPICS, frozenset({OTHER_TP}))
        notifier.assigned_threadsafe(TOPICS, frozenset({TP, OTHER_TP}))
        await settle()

        waiting = asyncio.create_task(notifier.reached(TP, 5))
        await settle()
        assert not waiting.done()
        notifier.progress_threadsafe({}, {TP: 5})
        await asyncio.wait_for(waiting, 1)

    run(scenario)


def test_partitions_of_topics_no_projector_reports_on_are_here() -> None:
    """The customers and payments tables: every instance holds every partition."""

    async def scenario(notifier: Notifier) -> None:
        notifier.assigned_threadsafe(TOPICS, frozenset())
        await settle()

        assert notifier.here(("customers", 2))
        waiting = asyncio.create_task(notifier.reached(("customers", 2), 3))
        notifier.progress_threadsafe({}, {("customers", 2): 3})
        await asyncio.wait_for(waiting, 1)

    run(scenario)
