"""Sends each call to the gateway instance that owns its key.

A servicer method says once which partition its call belongs to:

    @routed(decode=..., partition=lambda service, command: ...)
    async def GetOrder(self, command, context): ...

The call is decoded (a malformed one is refused here, before anything is
forwarded), then served here if this instance owns the partition, or
forwarded to the owner with the same method of the servicer's `peer_stub`,
marked so that it is never forwarded twice. While partitions move (a
rebalance), the call waits and retries within its deadline instead of
failing; the owner's status and trailing metadata are relayed as they are.
A server stream whose partition moves mid-stream goes on from the new owner.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from gateway.adapters.peers import Router
from gateway.api.auth import AUTHORIZATION, bearer
from gateway.app.errors import PartitionMoved

FORWARDED = "x-oms-forwarded"
# How long a call waits for a partition to find an owner if it has no deadline.
DEFAULT_WAIT_S = 30.0

TopicPartition = tuple[str, int]
Response = TypeVar("Response")
Metadata = tuple[tuple[str, str], ...]
# (the owner's channel, time left, metadata) -> the call made there
Forward = Callable[[grpc.aio.Channel, float, Metadata], Any]


def routed(
    decode: Callable[[Any], Any],
    partition: Callable[[Any, Any], TopicPartition],
    resume: Callable[[], Callable[[Any], bool]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorates a servicer method (unary or server streaming) of a servicer
    with `routes` (Routes) and `peer_stub` (its service's gRPC stub class).
    The method gets the decoded command. For streams, `resume` makes a
    filter that drops what was already sent when the stream goes on
    elsewhere."""

    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        name = method.__name__

        def forward(service: Any, request: object) -> Forward:
            return lambda channel, timeout, metadata: getattr(service.peer_stub(channel), name)(
                request, timeout=timeout, metadata=metadata
            )

        if inspect.isasyncgenfunction(method):

            @functools.wraps(method)
            async def streaming(service: Any, request: object, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                command = decode(request)
                routes: Routes = service.routes
                async for item in routes.stream(
                    partition(service, command),
                    context,
                    lambda: method(service, command, context),
                    forward(service, request),
                    (resume or _everything)(),
                ):
                    yield item

            return streaming

        @functools.wraps(method)
        async def unary(service: Any, request: object, context: grpc.aio.ServicerContext) -> Any:
            command = decode(request)
            routes: Routes = service.routes
            return await routes.unary(
                partition(service, command),
                context,
                lambda: method(service, command, context),
                forward(service, request),
            )

        return unary

    return decorate


def _everything() -> Callable[[Any], bool]:
    return lambda _item: True


class Routes:
    def __init__(self, router: Router) -> None:
        self._router = router

    async def _owner(
        self, tp: TopicPartition, context: grpc.aio.ServicerContext, deadline: float, lookup: bool = False
    ) -> str | None:
        forwarded = not lookup and any(k == FORWARDED for k, _ in context.invocation_metadata() or ())
        return await self._router.owner(tp, forwarded, deadline)

    async def unary(
        self,
        tp: TopicPartition,
        context: grpc.aio.ServicerContext,
        here: Callable[[], Awaitable[Response]],
        there: Forward,
        lookup: bool = False,
    ) -> Response:
        """Runs a unary call here or at the owner, relaying the owner's answer.
        `lookup`: a read made on behalf of the call (of another key), which
        may be forwarded even from a call that was."""
        deadline = time.monotonic() + _remaining(context)
        while True:
            owner = await self._owner(tp, context, deadline, lookup)
            if owner is None:
                try:
                    return await here()
                except PartitionMoved as moved:
                    await _after_move(moved, deadline)
                    continue  # to the new owner
            try:
                return await there(self._router.channel(owner), _left(deadline), self._marker(context))
            except grpc.aio.AioRpcError as error:
                await self._retry_or_relay(error, tp, deadline, context)

    async def stream(
        self,
        tp: TopicPartition,
        context: grpc.aio.ServicerContext,
        here: Callable[[], AsyncIterator[Response]],
        there: Forward,
        resume: Callable[[Response], bool],
    ) -> AsyncIterator[Response]:
        """A server stream from here or from the owner. When the owner goes
        away mid-stream, it goes on from the new owner; `resume` drops what
        was already sent."""
        deadline = time.monotonic() + _remaining(context)
        while True:
            owner = await self._owner(tp, context, deadline)
            if owner is None:
                try:
                    async for item in here():
                        if resume(item):
                            yield item
                    return
                except PartitionMoved as moved:
                    await _after_move(moved, deadline)
                    continue  # and on from the new owner
            try:
                async for item in there(self._router.channel(owner), _left(deadline), self._marker(context)):
                    if resume(item):
                        yield item
                return
            except grpc.aio.AioRpcError as error:
                await self._retry_or_relay(error, tp, deadline, context)

    def _marker(self, context: grpc.aio.ServicerContext) -> Metadata:
        """The metadata of a forwarded call: the marker, and the caller's own
        token (the owner verifies it again: identity crosses only as it)."""
        token = bearer(context.invocation_metadata())
        return ((FORWARDED, self._router.address),) + (((AUTHORIZATION, token),) if token else ())

    async def _retry_or_relay(
        self, error: grpc.aio.AioRpcError, tp: TopicPartition, deadline: float, context: grpc.aio.ServicerContext
    ) -> None:
        """Returns to try again (the owner may have moved); else ends the call
        with the owner's answer."""
        if _retryable(error) and time.monotonic() < deadline:
            self._router.forget(tp)
            await asyncio.sleep(0.05)
            return
        await context.abort(error.code(), error.details() or "", _relayable(error))


async def _after_move(moved: PartitionMoved, deadline: float) -> None:
    """Before asking for the partition's owner again: past the deadline the
    move is the answer (UNAVAILABLE); else a pause, so that a retry never
    spins the event loop (health checks included) without yielding."""
    if time.monotonic() > deadline:
        raise moved
    await asyncio.sleep(0.05)


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
