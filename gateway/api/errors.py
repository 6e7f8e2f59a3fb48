"""The edge: application errors become gRPC statuses with machine-readable
details (google.rpc.Status), in one interceptor."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from gateway.app.errors import (
    AlreadyExists,
    AppError,
    FailedPrecondition,
    FieldViolation,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    Shed,
    Unauthenticated,
    Unavailable,
)


def _status(code: int, message: str, *details: object) -> status_pb2.Status:
    packed = []
    for detail in details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)  # type: ignore[arg-type]
        packed.append(any_detail)
    return status_pb2.Status(code=code, message=message, details=packed)


def _retry_info(after_s: float) -> error_details_pb2.RetryInfo:
    retry = error_details_pb2.RetryInfo()
    retry.retry_delay.FromMilliseconds(int(after_s * 1000))
    return retry


def status_of(error: AppError) -> status_pb2.Status:
    """The status a call that failed with `error` answers."""
    if isinstance(error, InvalidRequest):
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in error.violations
            ]
        )
        return _status(code_pb2.INVALID_ARGUMENT, str(error), bad)
    if isinstance(error, NotFound):
        info = error_details_pb2.ResourceInfo(
            resource_type=error.kind, resource_name=error.name, description=error.description
        )
        return _status(code_pb2.NOT_FOUND, error.description, info)
    if isinstance(error, AlreadyExists):
        reused = error_details_pb2.ErrorInfo(reason=error.reason, domain="oms", metadata=error.metadata)
        return _status(code_pb2.ALREADY_EXISTS, error.message, reused)
    if isinstance(error, FailedPrecondition):
        failure = error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(
                    type=v.type, subject=v.subject, description=v.description
                )
                for v in error.violations
            ]
        )
        return _status(code_pb2.FAILED_PRECONDITION, error.message, failure)
    if isinstance(error, Unavailable):  # PartitionMoved included
        return _status(code_pb2.UNAVAILABLE, error.message, _retry_info(error.retry_after_s))
    if isinstance(error, Shed):
        info = error_details_pb2.ErrorInfo(reason=error.reason, domain="oms", metadata=error.metadata)
        return _status(code_pb2.RESOURCE_EXHAUSTED, str(error), info, _retry_info(error.retry_after_s))
    if isinstance(error, Unauthenticated):
        return _status(code_pb2.UNAUTHENTICATED, str(error))
    if isinstance(error, PermissionDenied):
        return _status(code_pb2.PERMISSION_DENIED, str(error))
    return _status(code_pb2.INTERNAL, str(error))


async def abort(context: grpc.aio.ServicerContext, error: AppError) -> None:
    await context.abort_with_status(rpc_status.to_status(status_of(error)))


class ErrorStatuses(grpc.aio.ServerInterceptor):
    """Answers a call whose handler raised an AppError with its status and
    details, so that servicers and handlers only raise. Every service of the
    gateway takes one request message (unary or server streaming)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        lenient = _lenient(handler.request_deserializer)
        if handler.unary_unary is not None:
            return handler._replace(unary_unary=_answering(handler.unary_unary), request_deserializer=lenient)
        if handler.unary_stream is not None and inspect.isasyncgenfunction(handler.unary_stream):
            return handler._replace(unary_stream=_answering_stream(handler.unary_stream), request_deserializer=lenient)
        return handler


class _Malformed:
    """A request whose bytes are no message of the method's type."""


MALFORMED = _Malformed()
_NOT_A_MESSAGE = InvalidRequest([FieldViolation("request", "is not a well-formed protobuf message of this method")])


def _lenient(deserialize: Callable[[bytes], object] | None) -> Callable[[bytes], object] | None:
    """gRPC answers UNKNOWN to bytes its deserializer cannot read: these
    become MALFORMED, answered INVALID_ARGUMENT."""
    if deserialize is None:
        return None
    read = deserialize

    def lenient(data: bytes) -> object:
        try:
            return read(data)
        except DecodeError:
            return MALFORMED

    return lenient


def _answering(behavior: Callable[..., Awaitable[object]]) -> Callable[..., Awaitable[object]]:
    async def answered(request: object, context: grpc.aio.ServicerContext) -> object:
        try:
            if request is MALFORMED:
                raise _NOT_A_MESSAGE
            return await behavior(request, context)
        except AppError as error:
            await abort(context, error)
            raise  # unreachable: abort raises

    return answered


def _answering_stream(behavior: Callable[..., AsyncIterator[object]]) -> Callable[..., AsyncIterator[object]]:
    async def answered(request: object, context: grpc.aio.ServicerContext) -> AsyncIterator[object]:
        try:
            if request is MALFORMED:
                raise _NOT_A_MESSAGE
            async for response in behavior(request, context):
                yield response
        except AppError as error:
            await abort(context, error)

    return answered
