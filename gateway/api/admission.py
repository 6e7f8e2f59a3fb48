"""Load shedding: past a limit of calls in flight, a new call is answered
RESOURCE_EXHAUSTED at once, with a RetryInfo, instead of queueing behind the
others until every caller's deadline has passed.

Only the unary calls of the oms services count. A WatchOrder stream mostly
waits, and costs next to nothing while it does; health checks and reflection
must answer however busy the instance is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc

from gateway.app.errors import Overloaded

LIMITED_PREFIX = "/oms."


class CallLimit(grpc.aio.ServerInterceptor):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        # Only touched on the event loop's thread.
        self.in_flight = 0

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None or not details.method.startswith(LIMITED_PREFIX):
            return handler
        return handler._replace(unary_unary=self._limited(handler.unary_unary))

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
