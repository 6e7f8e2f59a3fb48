"""gRPC errors with machine-readable details (google.rpc.Status)."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class RequestError(Exception):
    """An error to answer with: servicers raise it, and `RequestErrors`
    answers the call with its status and details."""

    def __init__(self, status: status_pb2.Status) -> None:
        super().__init__(status.message)
        self.status = status


def _status(code: int, message: str, *details: object) -> status_pb2.Status:
    packed = []
    for detail in details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)  # type: ignore[arg-type]
        packed.append(any_detail)
    return status_pb2.Status(code=code, message=message, details=packed)


def invalid_argument(violations: list[FieldViolation]) -> RequestError:
    bad = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description) for v in violations
        ]
    )
    message = "; ".join(f"{v.field}: {v.description}" for v in violations)
    return RequestError(_status(code_pb2.INVALID_ARGUMENT, message, bad))


def already_exists(message: str, reason: str, **metadata: str) -> RequestError:
    info = error_details_pb2.ErrorInfo(reason=reason, domain="oms", metadata=metadata)
    return RequestError(_status(code_pb2.ALREADY_EXISTS, message, info))


def not_found(resource_type: str, name: str, description: str) -> RequestError:
    info = error_details_pb2.ResourceInfo(resource_type=resource_type, resource_name=name, description=description)
    return RequestError(_status(code_pb2.NOT_FOUND, description, info))


def _retry_info(after_s: float) -> error_details_pb2.RetryInfo:
    retry = error_details_pb2.RetryInfo()
    retry.retry_delay.FromMilliseconds(int(after_s * 1000))
    return retry


def unavailable(message: str, retry_after_s: float = 1.0) -> RequestError:
    return RequestError(_status(code_pb2.UNAVAILABLE, message, _retry_info(retry_after_s)))


def overloaded(limit: int, retry_after_s: float = 0.5) -> RequestError:
    info = error_details_pb2.ErrorInfo(reason="OVERLOADED", domain="oms", metadata={"max_calls": str(limit)})
    message = f"this gateway instance already serves {limit} calls; try again shortly"
    return RequestError(_status(code_pb2.RESOURCE_EXHAUSTED, message, info, _retry_info(retry_after_s)))


async def abort(context: grpc.aio.ServicerContext, error: RequestError) -> None:
    await context.abort_with_status(rpc_status.to_status(error.status))


class RequestErrors(grpc.aio.ServerInterceptor):
    """Answers a call whose handler raised a RequestError with that error's
    status and details, so that servicers only raise. Every service of the
    gateway takes one request message (unary or server streaming)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        if handler.unary_unary is not None:
            return handler._replace(unary_unary=_answering(handler.unary_unary))
        if handler.unary_stream is not None and inspect.isasyncgenfunction(handler.unary_stream):
            return handler._replace(unary_stream=_answering_stream(handler.unary_stream))
        return handler


def _answering(behavior: Callable[..., Awaitable[object]]) -> Callable[..., Awaitable[object]]:
    async def answered(request: object, context: grpc.aio.ServicerContext) -> object:
        try:
            return await behavior(request, context)
        except RequestError as error:
            await abort(context, error)
            raise  # unreachable: abort raises

    return answered


def _answering_stream(behavior: Callable[..., AsyncIterator[object]]) -> Callable[..., AsyncIterator[object]]:
    async def answered(request: object, context: grpc.aio.ServicerContext) -> AsyncIterator[object]:
        try:
            async for response in behavior(request, context):
                yield response
        except RequestError as error:
            await abort(context, error)

    return answered
