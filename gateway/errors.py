"""gRPC errors with machine-readable details (google.rpc.Status)."""

from __future__ import annotations

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
    """An error to answer with; servicers let it propagate to `abort`."""

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


def unavailable(message: str, retry_after_s: float = 1.0) -> RequestError:
    retry = error_details_pb2.RetryInfo()
    retry.retry_delay.FromMilliseconds(int(retry_after_s * 1000))
    return RequestError(_status(code_pb2.UNAVAILABLE, message, retry))


async def abort(context: grpc.aio.ServicerContext, error: RequestError) -> None:
    await context.abort_with_status(rpc_status.to_status(error.status))
