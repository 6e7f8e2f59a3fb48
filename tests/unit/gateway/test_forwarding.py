"""The peers Router while ownership is in flux, without a broker: the
group's description is scripted."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.adapters.peers import Router
from gateway.app.errors import Unavailable
from streams.kafka import GroupMember

ADDRESS = "127.0.0.1:50052"
TP = ("orders", 1)


def test_a_stale_description_naming_this_instance_waits_without_blocking_the_loop() -> None:
    """The partition left this instance, but the group still says it is here:
    the call waits for the group to catch up, and the rest of the gateway
    (every other call, the notifier) keeps running meanwhile."""

    async def scenario() -> tuple[Unavailable, int]:
        router = Router(ADDRESS, owns=lambda _tp: False, members=lambda: [GroupMember(ADDRESS, frozenset({TP}))])
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        try:
            with pytest.raises(Unavailable) as raised:
                await router.owner(TP, forwarded=False, deadline=time.monotonic() + 0.5)
        finally:
            ticker.cancel()
            await router.close()
        return raised.value, ticks

    error, ticks = asyncio.run(scenario())

    assert "no gateway owns" in str(error)
    # 0.5 s of 10 ms ticks is about 50; a loop spinning between refreshes
    # (every 0.2 s) lets only a handful through.
    assert ticks >= 15
