"""Load shedding: past a limit of calls in flight, a new call is answered
RESOURCE_EXHAUSTED at once, with a RetryInfo, instead of queueing behind the
others until every caller's deadline has passed.

Only the unary calls of the oms services count. A WatchOrder stream mostly
waits, and costs next to nothing while it does; health checks and reflection
must answer however busy the instance is.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc

from gateway.app.errors import Overloaded, WatchLimit

LIMITED_PREFIX = "/oms."


class CallLimit(grpc.aio.ServerInterceptor):
    """Also caps the open server streams (WatchOrder) at `max_streams`."""

    def __init__(self, limit: int, max_streams: int = 1000) -> None:
        self.limit = limit
        self.max_streams = max_streams
        # Only touched on the event loop's thread.
        self.in_flight = 0
        self.streams = 0

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or not details.method.startswith(LIMITED_PREFIX):
            return handler
        if handler.unary_stream is not None and inspect.isasyncgenfunction(handler.unary_stream):
            return handler._replace(unary_stream=self._limited_stream(handler.unary_stream))
        if handler.unary_unary is None:
            return handler
        return handler._replace(unary_unary=self._limited(handler.unary_unary))

    def _limited_stream(self, behavior: Callable[..., AsyncIterator[object]]) -> Callable[..., AsyncIterator[object]]:
        async def limited(request: object, context: grpc.aio.ServicerContext) -> AsyncIterator[object]:
            if self.streams >= self.max_streams:
                raise WatchLimit(self.max_streams)
            self.streams += 1
            try:
                async for response in behavior(request, context):
                    yield response
            finally:
                self.streams -= 1

        return limited

    def _limited(self, behavior: Callable[..., Awaitable[object]]) -> Callable[..., Awaitable[object]]:
        async def limited(request: object, context: grpc.aio.ServicerContext) -> object:
            if self.in_flight >= self.limit:
                raise Overloaded(self.limit)
            self.in_flight += 1
            try:
                return await behavior(request, context)
            finally:
                self.in_flight -= 1

        return limited
