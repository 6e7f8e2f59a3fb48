"""The Router while ownership is in flux, without a broker: the group's
description is scripted, the call's context is a plain object."""

from __future__ import annotations

import asyncio

import pytest
from google.rpc import code_pb2

from gateway.errors import RequestError
from gateway.forwarding import Router
from streams.kafka import GroupMember

ADDRESS = "127.0.0.1:50052"
TP = ("orders", 1)


class Context:
    """What the Router reads of a call: its metadata and time left."""

    def __init__(self, deadline_s: float) -> None:
        self._deadline = asyncio.get_running_loop().time() + deadline_s

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()

    def time_remaining(self) -> float:
        return max(0.0, self._deadline - asyncio.get_running_loop().time())


def test_a_stale_description_naming_this_instance_waits_without_blocking_the_loop() -> None:
    """The partition left this instance, but the group still says it is here:
    the call waits for the group to catch up, and the rest of the gateway
    (every other call, the notifier) keeps running meanwhile."""

    async def scenario() -> tuple[RequestError, int]:
        router = Router(ADDRESS, 3, owned=frozenset, members=lambda: [GroupMember(ADDRESS, frozenset({TP}))])
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        try:
            with pytest.raises(RequestError) as raised:
                await router.unary(TP, Context(0.5), lambda: asyncio.sleep(0), lambda *_: asyncio.sleep(0))  # type: ignore[arg-type]
        finally:
            ticker.cancel()
            await router.close()
        return raised.value, ticks

    error, ticks = asyncio.run(scenario())

    assert error.status.code == code_pb2.UNAVAILABLE
    # 0.5 s of 10 ms ticks is about 50; a loop spinning between refreshes
    # (every 0.2 s) lets only a handful through.
    assert ticks >= 15
