"""Admission at the front door: a call this instance would not serve in good
time is answered RESOURCE_EXHAUSTED at once, with an ErrorInfo reason and a
RetryInfo, instead of waiting in line until every caller's deadline has
passed. Offered more than it sustains, the platform then goes on serving at
the rate it sustains and sheds the rest.

- PlaceOrder, the one call that brings the order workflow new work, is shed
  while the workflow is more than `max_backlog` records behind on `orders`
  (WORKFLOW_BEHIND): a new order would only wait behind the others.
- Every unary call of the oms services is shed while this instance's event
  loop runs more than `max_loop_lag_ms` late (SATURATED), so that the calls
  it has drain, and past `max_calls` in flight (OVERLOADED).
- A WatchOrder stream mostly waits, and costs next to nothing while it does:
  only the open streams are counted (TOO_MANY_WATCHES).
- Health checks and reflection answer however busy the instance is.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc

from gateway.app.errors import Overloaded, Saturated, Shed, WatchLimit, WorkflowBehind
from gateway.app.ports import WorkflowBacklog
from oms.orders.v1 import command_service_pb2

LIMITED_PREFIX = "/oms."
PLACE_ORDER = f"/{command_service_pb2.DESCRIPTOR.services_by_name['OrderCommandService'].full_name}/PlaceOrder"


class LoopLag:
    """How late the event loop runs what is due: a task sleeps `interval_s`
    again and again, and how long past that it wakes is one sample. Samples
    are smoothed (the newest weighs `weight`), so that one slow callback
    does not shed calls, while a loop that stays late does within a sample
    or two."""

    def __init__(self, interval_s: float = 0.05, weight: float = 0.3) -> None:
        self.interval_s = interval_s
        self.weight = weight
        self.seconds = 0.0

    def observe(self, late_s: float) -> None:
        self.seconds += self.weight * (max(0.0, late_s) - self.seconds)

    async def follow(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval_s
            await asyncio.sleep(self.interval_s)
            self.observe(loop.time() - due)


class Admission(grpc.aio.ServerInterceptor):
    """`workflow`: the order workflow's backlog (None: PlaceOrder is never
    shed for it); `loop_lag`: this event loop's lag in seconds (LoopLag);
    `on_shed`: told the reason of each call shed."""

    def __init__(
        self,
        max_calls: int,
        max_watches: int = 1000,
        *,
        workflow: WorkflowBacklog | None = None,
        max_backlog: int = 1000,
        loop_lag: Callable[[], float] = lambda: 0.0,
        max_loop_lag_ms: int = 100,
        on_shed: Callable[[str], None] = lambda _reason: None,
    ) -> None:
        self.max_calls = max_calls
        self.max_watches = max_watches
        self.workflow = workflow
        self.max_backlog = max_backlog
        self.loop_lag = loop_lag
        self.max_loop_lag_ms = max_loop_lag_ms
        self.on_shed = on_shed
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
        admit = self._admit_order if details.method == PLACE_ORDER else self._admit_call
        return handler._replace(unary_unary=self._limited(handler.unary_unary, admit))

    def _admit_call(self) -> None:
        lag_ms = self.loop_lag() * 1000
        if lag_ms > self.max_loop_lag_ms:
            raise Saturated(lag_ms, self.max_loop_lag_ms)
        if self.in_flight >= self.max_calls:
            raise Overloaded(self.max_calls)

    def _admit_order(self) -> None:
        self._admit_call()
        backlog = None if self.workflow is None else self.workflow.records_behind()
        if backlog is not None and backlog > self.max_backlog:
            raise WorkflowBehind(backlog, self.max_backlog)

    def _limited_stream(self, behavior: Callable[..., AsyncIterator[object]]) -> Callable[..., AsyncIterator[object]]:
        async def limited(request: object, context: grpc.aio.ServicerContext) -> AsyncIterator[object]:
            if self.streams >= self.max_watches:
                self.on_shed(WatchLimit.reason)
                raise WatchLimit(self.max_watches)
            self.streams += 1
            try:
                async for response in behavior(request, context):
                    yield response
            finally:
                self.streams -= 1

        return limited

    def _limited(
        self, behavior: Callable[..., Awaitable[object]], admit: Callable[[], None]
    ) -> Callable[..., Awaitable[object]]:
        async def limited(request: object, context: grpc.aio.ServicerContext) -> object:
            try:
                admit()
            except Shed as shed:
                self.on_shed(shed.reason)
                raise
            self.in_flight += 1
            try:
                return await behavior(request, context)
            finally:
                self.in_flight -= 1

        return limited
