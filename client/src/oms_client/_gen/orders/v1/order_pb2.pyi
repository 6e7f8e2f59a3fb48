import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrderState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATE_UNSPECIFIED: _ClassVar[OrderState]
    ORDER_STATE_CREATED: _ClassVar[OrderState]
    ORDER_STATE_VALIDATED: _ClassVar[OrderState]
    ORDER_STATE_FAILED: _ClassVar[OrderState]
    ORDER_STATE_SHIPPED: _ClassVar[OrderState]
    ORDER_STATE_CANCELLED: _ClassVar[OrderState]

class CheckType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHECK_TYPE_UNSPECIFIED: _ClassVar[CheckType]
    CHECK_TYPE_ORDER_DETAILS: _ClassVar[CheckType]
    CHECK_TYPE_FRAUD: _ClassVar[CheckType]
    CHECK_TYPE_INVENTORY: _ClassVar[CheckType]

class CheckResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHECK_RESULT_UNSPECIFIED: _ClassVar[CheckResult]
    CHECK_RESULT_PASS: _ClassVar[CheckResult]
    CHECK_RESULT_FAIL: _ClassVar[CheckResult]
    CHECK_RESULT_ERROR: _ClassVar[CheckResult]
    CHECK_RESULT_TIMEOUT: _ClassVar[CheckResult]
ORDER_STATE_UNSPECIFIED: OrderState
ORDER_STATE_CREATED: OrderState
ORDER_STATE_VALIDATED: OrderState
ORDER_STATE_FAILED: OrderState
ORDER_STATE_SHIPPED: OrderState
ORDER_STATE_CANCELLED: OrderState
CHECK_TYPE_UNSPECIFIED: CheckType
CHECK_TYPE_ORDER_DETAILS: CheckType
CHECK_TYPE_FRAUD: CheckType
CHECK_TYPE_INVENTORY: CheckType
CHECK_RESULT_UNSPECIFIED: CheckResult
CHECK_RESULT_PASS: CheckResult
CHECK_RESULT_FAIL: CheckResult
CHECK_RESULT_ERROR: CheckResult
CHECK_RESULT_TIMEOUT: CheckResult

class CheckOutcome(_message.Message):
    __slots__ = ("check_type", "result", "reason")
    CHECK_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    check_type: CheckType
    result: CheckResult
    reason: str
    def __init__(self, check_type: _Optional[_Union[CheckType, str]] = ..., result: _Optional[_Union[CheckResult, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("order_id", "customer_id", "product", "quantity", "price", "state", "checks", "version", "placed_at", "updated_at")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PLACED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    customer_id: int
    product: str
    quantity: int
    price: float
    state: OrderState
    checks: _containers.RepeatedCompositeFieldContainer[CheckOutcome]
    version: int
    placed_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, order_id: _Optional[str] = ..., customer_id: _Optional[int] = ..., product: _Optional[str] = ..., quantity: _Optional[int] = ..., price: _Optional[float] = ..., state: _Optional[_Union[OrderState, str]] = ..., checks: _Optional[_Iterable[_Union[CheckOutcome, _Mapping]]] = ..., version: _Optional[int] = ..., placed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
