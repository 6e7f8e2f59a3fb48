"""Work that a cancelled call starts still runs to its end."""

from __future__ import annotations

import asyncio

import pytest

from gateway.app.concurrency import outlive_cancellation


def test_the_work_finishes_after_its_caller_is_cancelled() -> None:
    finished: list[str] = []

    async def write() -> str:
        await asyncio.sleep(0.05)
        finished.append("written")
        return "done"

    async def scenario() -> None:
        caller = asyncio.ensure_future(outlive_cancellation(write()))
        await asyncio.sleep(0.01)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        assert finished == []
        await asyncio.sleep(0.1)

    asyncio.run(scenario())
    assert finished == ["written"]


def test_an_unread_failure_is_not_reported_as_never_retrieved() -> None:
    reported: list[dict] = []

    async def fail() -> None:
        await asyncio.sleep(0.02)
        raise RuntimeError("broker gone")

    async def scenario() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, context: reported.append(context))
        caller = asyncio.ensure_future(outlive_cancellation(fail()))
        await asyncio.sleep(0.01)
        caller.cancel()
        await asyncio.sleep(0.05)

    asyncio.run(scenario())
    import gc

    gc.collect()
    assert reported == []


def test_the_result_reaches_a_caller_that_waits() -> None:
    async def work() -> int:
        return 42

    assert asyncio.run(outlive_cancellation(work())) == 42
