"""Sends each call to the gateway instance that owns its key.

Each gateway instance projects only the partitions its view consumer is
assigned. Instances find each other through that consumer group itself:
every view consumer carries its instance's gRPC address as its client id, so
describing the group tells which address owns which partition. No host list
is configured anywhere.

A call whose key another instance owns is forwarded there, marked so that it
is never forwarded twice. While partitions move (a rebalance), the call waits
and retries within its deadline instead of failing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import grpc

from gateway.errors import unavailable
from gateway.notifier import PartitionMoved
from streams.kafka import GroupMember
from streams.partitioning import partition_for

log = logging.getLogger(__name__)

FORWARDED = "x-oms-forwarded"
NOT_OWNER = "not the owner"
# How long a call waits for a partition to find an owner if it has no deadline.
DEFAULT_WAIT_S = 30.0

TopicPartition = tuple[str, int]
Response = TypeVar("Response")


class Router:
    def __init__(
        self,
        address: str,
        partitions: int,
        owned: Callable[[], frozenset[TopicPartition]],
        members: Callable[[], list[GroupMember]],
    ) -> None:
        self.address = address
        self._partitions = partitions
        self._owned = owned
        self._members = members
        self._owners: dict[TopicPartition, str] = {}
        self._refreshed_at = 0.0
        self._channels: dict[str, grpc.aio.Channel] = {}

    def partition_of(self, topic: str, key: str) -> TopicPartition:
        return (topic, partition_for(key.encode(), self._partitions))

    def owns(self, tp: TopicPartition) -> bool:
        return tp in self._owned()

    async def _refresh(self) -> None:
        if time.monotonic() - self._refreshed_at < 0.2:
            return
        self._refreshed_at = time.monotonic()
        try:
            members = await asyncio.to_thread(self._members)
        except Exception as exc:  # the group may be rebalancing or the broker moving
            log.info("cannot describe the view group yet: %s", exc)
            return
        self._owners = {tp: m.client_id for m in members for tp in m.partitions}

    def channel(self, address: str) -> grpc.aio.Channel:
        if address not in self._channels:
            self._channels[address] = grpc.aio.insecure_channel(address)
        return self._channels[address]

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()

    async def _owner(self, tp: TopicPartition, context: grpc.aio.ServicerContext) -> str | None:
        """None to serve here; else the owner's address. Waits out rebalances."""
        forwarded = any(k == FORWARDED for k, _ in context.invocation_metadata() or ())
        deadline = time.monotonic() + _remaining(context)
        while True:
            if self.owns(tp):
                return None
            if forwarded:
                raise unavailable(f"{NOT_OWNER} of {tp[0]}[{tp[1]}] any more", retry_after_s=0.1)
            owner = self._owners.get(tp)
            if owner and owner != self.address:
                return owner
            if time.monotonic() > deadline:
                raise unavailable(f"no gateway owns {tp[0]}[{tp[1]}] yet", retry_after_s=1)
            await self._refresh()
            if self._owners.get(tp) in (None, self.address):
                # No owner yet, or the group still names this instance: wait
                # (without it, a stale entry would spin the loop until the
                # next refresh).
                await asyncio.sleep(0.1)

    async def unary(
        self,
        tp: TopicPartition,
        context: grpc.aio.ServicerContext,
        here: Callable[[], Awaitable[Response]],
        there: Callable[[grpc.aio.Channel, float, tuple[tuple[str, str], ...]], Awaitable[Response]],
    ) -> Response:
        """Runs a unary call here or at the owner, relaying the owner's answer."""
        deadline = time.monotonic() + _remaining(context)
        while True:
            owner = await self._owner(tp, context)
            if owner is None:
                try:
                    return await here()
                except PartitionMoved:
                    continue  # to the new owner
            try:
                return await there(self.channel(owner), _left(deadline), ((FORWARDED, self.address),))
            except grpc.aio.AioRpcError as error:
                await self._retry_or_relay(error, tp, deadline, context)

    async def stream(
        self,
        tp: TopicPartition,
        context: grpc.aio.ServicerContext,
        here: Callable[[], AsyncIterator[Response]],
        there: Callable[[grpc.aio.Channel, float, tuple[tuple[str, str], ...]], AsyncIterator[Response]],
        resume: Callable[[Response], bool] = lambda _: True,
    ) -> AsyncIterator[Response]:
        """A server stream from here or from the owner. When the owner goes
        away mid-stream, it goes on from the new owner; `resume` drops what
        was already sent."""
        deadline = time.monotonic() + _remaining(context)
        while True:
            owner = await self._owner(tp, context)
            if owner is None:
                try:
                    async for item in here():
                        if resume(item):
                            yield item
                    return
                except PartitionMoved:
                    continue  # and on from the new owner
            try:
                async for item in there(self.channel(owner), _left(deadline), ((FORWARDED, self.address),)):
                    if resume(item):
                        yield item
                return
            except grpc.aio.AioRpcError as error:
                await self._retry_or_relay(error, tp, deadline, context)

    async def _retry_or_relay(
        self, error: grpc.aio.AioRpcError, tp: TopicPartition, deadline: float, context: grpc.aio.ServicerContext
    ) -> None:
        """Returns to try again (the owner may have moved); else ends the call
        with the owner's answer."""
        if _retryable(error) and time.monotonic() < deadline:
            self._owners.pop(tp, None)
            await asyncio.sleep(0.05)
            return
        await context.abort(error.code(), error.details() or "", _relayable(error))


def _left(deadline: float) -> float:
    return max(0.01, deadline - time.monotonic())


def _retryable(error: grpc.aio.AioRpcError) -> bool:
    return error.code() == grpc.StatusCode.UNAVAILABLE


def _remaining(context: grpc.aio.ServicerContext) -> float:
    remaining = context.time_remaining()
    return DEFAULT_WAIT_S if remaining is None else remaining


def _relayable(error: grpc.aio.AioRpcError) -> tuple[tuple[str, str | bytes], ...]:
    """The owner's trailing metadata (with its status details) to pass on."""
    return tuple((key, value) for key, value in (error.trailing_metadata() or ()))
