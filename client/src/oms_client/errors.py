"""Typed exceptions for failed calls, with the server's google.rpc.Status
details decoded (BadRequest, ErrorInfo, ResourceInfo, RetryInfo, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import any_pb2, text_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

_DETAIL_TYPES: tuple[type[Message], ...] = (
    error_details_pb2.BadRequest,
    error_details_pb2.ErrorInfo,
    error_details_pb2.ResourceInfo,
    error_details_pb2.RetryInfo,
    error_details_pb2.PreconditionFailure,
    error_details_pb2.QuotaFailure,
    error_details_pb2.DebugInfo,
    error_details_pb2.RequestInfo,
    error_details_pb2.Help,
    error_details_pb2.LocalizedMessage,
)


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad field of a request, from a google.rpc.BadRequest."""

    field: str
    description: str


class OmsError(Exception):
    """A call failed. `code` is the gRPC status code, `message` the server's
    message, `details` the decoded google.rpc.Status details."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        details: tuple[Message, ...] = (),
    ) -> None:
        self.code = code
        self.message = message
        self.details = details
        super().__init__(self.describe())

    def detail(self, kind: type[Any]) -> Any:
        """The first detail of the given message type, or None."""
        return next((d for d in self.details if isinstance(d, kind)), None)

    @property
    def field_violations(self) -> tuple[FieldViolation, ...]:
        bad = self.detail(error_details_pb2.BadRequest)
        if bad is None:
            return ()
        return tuple(FieldViolation(v.field, v.description) for v in bad.field_violations)

    @property
    def error_info(self) -> error_details_pb2.ErrorInfo | None:
        info: error_details_pb2.ErrorInfo | None = self.detail(error_details_pb2.ErrorInfo)
        return info

    @property
    def resource_info(self) -> error_details_pb2.ResourceInfo | None:
        info: error_details_pb2.ResourceInfo | None = self.detail(error_details_pb2.ResourceInfo)
        return info

    @property
    def retry_delay(self) -> float | None:
        """Seconds the server asked to wait before retrying (RetryInfo)."""
        retry = self.detail(error_details_pb2.RetryInfo)
        if retry is None or not retry.HasField("retry_delay"):
            return None
        return float(retry.retry_delay.ToMilliseconds()) / 1000.0

    def describe(self) -> str:
        """One readable line: the code, the message and every detail."""
        parts = [f"{self.code.name}: {self.message}" if self.message else self.code.name]
        parts.extend(describe_detail(d, self.message) for d in self.details)
        return " | ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: code, message and details."""
        from google.protobuf.json_format import MessageToDict

        return {
            "code": self.code.name,
            "message": self.message,
            "details": [
                {"@type": d.DESCRIPTOR.full_name, **MessageToDict(d, preserving_proto_field_name=True)}
                for d in self.details
            ],
        }


class InvalidArgument(OmsError):
    """The request is malformed; `field_violations` names every bad field."""


class NotFound(OmsError):
    """No such order, product or customer."""

    @property
    def resource_type(self) -> str:
        info = self.resource_info
        return info.resource_type if info else ""

    @property
    def resource_name(self) -> str:
        info = self.resource_info
        return info.resource_name if info else ""


class AlreadyExists(OmsError):
    """The id is taken by a different resource (e.g. an order id reused with other content)."""

    @property
    def reason(self) -> str:
        info = self.error_info
        return info.reason if info else ""

    @property
    def metadata(self) -> dict[str, str]:
        info = self.error_info
        return dict(info.metadata) if info else {}


class FailedPrecondition(OmsError):
    """The order is not in a state that allows the call (a cancel of a FAILED
    or SHIPPED order, a shipment of an unvalidated or unpaid one)."""

    @property
    def missing(self) -> tuple[str, ...]:
        """What is missing, by type (STATE, PAYMENT)."""
        failure = self.detail(error_details_pb2.PreconditionFailure)
        return tuple(v.type for v in failure.violations) if failure is not None else ()


class Unavailable(OmsError):
    """The service could not answer now; retrying later may succeed."""


class DeadlineExceeded(OmsError):
    pass


class Cancelled(OmsError):
    pass


class Unimplemented(OmsError):
    """The server does not serve this method (an older or partial deployment)."""


class ResourceExhausted(OmsError):
    pass


class PermissionDenied(OmsError):
    pass


class Unauthenticated(OmsError):
    pass


class InternalError(OmsError):
    """INTERNAL, UNKNOWN or DATA_LOSS: a server-side fault."""


_BY_CODE: dict[grpc.StatusCode, type[OmsError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.ABORTED: FailedPrecondition,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNKNOWN: InternalError,
    grpc.StatusCode.DATA_LOSS: InternalError,
}


def error_class(code: grpc.StatusCode) -> type[OmsError]:
    return _BY_CODE.get(code, OmsError)


def make_error(code: grpc.StatusCode, message: str, details: tuple[Message, ...] = ()) -> OmsError:
    return error_class(code)(code, message, details)


def unpack_detail(packed: any_pb2.Any) -> Message:
    """The detail as its own message type when known, else the Any itself."""
    for kind in _DETAIL_TYPES:
        if packed.TypeName() == kind.DESCRIPTOR.full_name:
            detail = kind()
            packed.Unpack(detail)
            return detail
    return packed


def from_rpc_error(error: grpc.RpcError) -> OmsError:
    """The typed exception for a failed call (sync or asyncio)."""
    call: Any = error
    code = call.code() if hasattr(call, "code") else grpc.StatusCode.UNKNOWN
    text = (call.details() if hasattr(call, "details") else None) or ""
    status: status_pb2.Status | None = None
    if hasattr(call, "trailing_metadata"):
        try:
            status = rpc_status.from_call(call)
        except ValueError:  # details that disagree with the status: use the status line alone
            status = None
    details = tuple(unpack_detail(d) for d in status.details) if status is not None else ()
    return make_error(code, text, details)


def _duration(seconds: float) -> str:
    return f"{seconds:g}s"


def describe_detail(detail: Message, message: str = "") -> str:
    """A google.rpc error detail in a few words; what the status `message`
    already says is not repeated."""
    if isinstance(detail, error_details_pb2.BadRequest):
        described = [f"{v.field}: {v.description}" for v in detail.field_violations]
        if all(d in message for d in described):
            return "bad fields: " + ", ".join(v.field for v in detail.field_violations)
        return "bad request: " + "; ".join(described)
    if isinstance(detail, error_details_pb2.ErrorInfo):
        text = f"error info: {detail.reason}"
        if detail.domain:
            text += f" ({detail.domain})"
        if detail.metadata:
            text += " " + " ".join(f"{k}={v}" for k, v in sorted(detail.metadata.items()))
        return text
    if isinstance(detail, error_details_pb2.ResourceInfo):
        text = f"resource: {detail.resource_type} {detail.resource_name!r}".rstrip()
        if detail.description and detail.description not in text and detail.description not in message:
            text += f" ({detail.description})"
        return text
    if isinstance(detail, error_details_pb2.RetryInfo):
        return f"retry after {_duration(detail.retry_delay.ToMilliseconds() / 1000)}"
    if isinstance(detail, error_details_pb2.PreconditionFailure):
        return "precondition failure: " + "; ".join(f"{v.type} {v.subject}: {v.description}" for v in detail.violations)
    if isinstance(detail, error_details_pb2.QuotaFailure):
        return "quota failure: " + "; ".join(f"{v.subject}: {v.description}" for v in detail.violations)
    if isinstance(detail, error_details_pb2.DebugInfo):
        return f"debug info: {detail.detail}"
    if isinstance(detail, error_details_pb2.LocalizedMessage):
        return f"message ({detail.locale}): {detail.message}"
    if isinstance(detail, any_pb2.Any):
        return f"detail {detail.type_url}"
    return f"{detail.DESCRIPTOR.name}: {text_format.MessageToString(detail, as_one_line=True)}"


__all__ = [
    "AlreadyExists",
    "Cancelled",
    "DeadlineExceeded",
    "FailedPrecondition",
    "FieldViolation",
    "InternalError",
    "InvalidArgument",
    "NotFound",
    "OmsError",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "from_rpc_error",
]
