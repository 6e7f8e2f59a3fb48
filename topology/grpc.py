"""The gRPC side of a service's metrics: an interceptor that counts and
times every call, in the order's log context."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable

import grpc
from prometheus_client import Counter

from streams.logs import order_context
from streams.metrics import SECONDS, Metrics

log = logging.getLogger(__name__)


class GrpcMetrics:
    """gRPC calls by method and status code, and their handling time."""

    def __init__(self, metrics: Metrics) -> None:
        self.grpc_requests = metrics.counter(
            "oms_grpc_requests", "gRPC calls handled, by method and status code", "method", "code"
        )
        self.grpc_seconds = metrics.histogram(
            "oms_grpc_request_duration_seconds", "gRPC call handling time", SECONDS, "method"
        )

    @classmethod
    def of(cls, metrics: Metrics) -> GrpcMetrics:
        return metrics.extension("grpc", cls)


def _code_of(context: grpc.aio.ServicerContext, error: BaseException | None) -> grpc.StatusCode:
    """The status a call ends with: the code set (or aborted with), else OK,
    CANCELLED or UNKNOWN from how the handler ended."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if error is None:
        return grpc.StatusCode.OK
    if isinstance(error, (asyncio.CancelledError, GeneratorExit)) or context.cancelled():
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


_SERVER_FAULTS = frozenset({grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DATA_LOSS})


class GrpcMetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts every call by method and status code and times it; a call whose
    request has an `order_id` runs in that order's log context."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = GrpcMetrics.of(metrics)
        # One finisher per method, made once: label lookups cost on every call.
        self._finishers: dict[str, Callable[[grpc.aio.ServicerContext, BaseException | None, float], None]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], object],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)  # type: ignore[misc]
        if handler is None:
            return handler
        method = details.method
        finish = self._finishers.get(method)
        if finish is None:
            finish = self._finishers[method] = self._finisher(method)
        if handler.unary_unary is not None:
            return handler._replace(unary_unary=_unary(handler.unary_unary, finish))
        if handler.unary_stream is not None:
            return handler._replace(unary_stream=_streaming(handler.unary_stream, finish))
        if handler.stream_unary is not None:
            return handler._replace(stream_unary=_unary(handler.stream_unary, finish))
        return handler._replace(stream_stream=_streaming(handler.stream_stream, finish))

    def _finisher(self, method: str) -> Callable[[grpc.aio.ServicerContext, BaseException | None, float], None]:
        requests = self._metrics.grpc_requests
        seconds = self._metrics.grpc_seconds.labels(method)
        by_code: dict[grpc.StatusCode, Counter] = {}

        def finish(context: grpc.aio.ServicerContext, error: BaseException | None, started: float) -> None:
            elapsed = time.perf_counter() - started
            code = _code_of(context, error)
            counter = by_code.get(code)
            if counter is None:
                counter = by_code[code] = requests.labels(method, code.name)
            counter.inc()
            seconds.observe(elapsed)
            if code in _SERVER_FAULTS:
                log.warning(
                    "%s ended with %s after %.1f ms: %s", method, code.name, elapsed * 1000, error or context.details()
                )
            else:
                log.debug("%s ended with %s after %.1f ms", method, code.name, elapsed * 1000)

        return finish


def _order_of(request: object) -> str | None:
    order_id = getattr(request, "order_id", None)
    return order_id if isinstance(order_id, str) and order_id else None


def _unary(behavior: Callable[..., object], finish: Callable[..., None]) -> Callable[..., object]:
    async def wrapped(request: object, context: grpc.aio.ServicerContext) -> object:
        started = time.perf_counter()
        with order_context(_order_of(request)):
            try:
                response = await behavior(request, context)  # type: ignore[misc]
            except BaseException as error:
                finish(context, error, started)
                raise
            finish(context, None, started)
            return response

    return wrapped


def _streaming(behavior: Callable[..., object], finish: Callable[..., None]) -> Callable[..., object]:
    if not inspect.isasyncgenfunction(behavior):
        # A handler that writes with context.write() and returns.
        return _unary(behavior, finish)

    async def wrapped(request: object, context: grpc.aio.ServicerContext) -> object:
        started = time.perf_counter()
        with order_context(_order_of(request)):
            try:
                async for response in behavior(request, context):
                    yield response
            except BaseException as error:
                finish(context, error, started)
                raise
            finish(context, None, started)

    return wrapped
