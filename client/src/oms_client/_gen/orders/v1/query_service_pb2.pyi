import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from oms_client._gen.orders.v1 import command_service_pb2 as _command_service_pb2
from oms_client._gen.orders.v1 import order_pb2 as _order_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrderEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_EVENT_KIND_UNSPECIFIED: _ClassVar[OrderEventKind]
    ORDER_EVENT_KIND_PLACED: _ClassVar[OrderEventKind]
    ORDER_EVENT_KIND_VALIDATED: _ClassVar[OrderEventKind]
    ORDER_EVENT_KIND_FAILED: _ClassVar[OrderEventKind]
    ORDER_EVENT_KIND_CANCELLED: _ClassVar[OrderEventKind]
    ORDER_EVENT_KIND_SHIPPED: _ClassVar[OrderEventKind]
ORDER_EVENT_KIND_UNSPECIFIED: OrderEventKind
ORDER_EVENT_KIND_PLACED: OrderEventKind
ORDER_EVENT_KIND_VALIDATED: OrderEventKind
ORDER_EVENT_KIND_FAILED: OrderEventKind
ORDER_EVENT_KIND_CANCELLED: OrderEventKind
ORDER_EVENT_KIND_SHIPPED: OrderEventKind

class GetOrderRequest(_message.Message):
    __slots__ = ("order_id", "min_position")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    min_position: _command_service_pb2.LogPosition
    def __init__(self, order_id: _Optional[str] = ..., min_position: _Optional[_Union[_command_service_pb2.LogPosition, _Mapping]] = ...) -> None: ...

class GetOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: _order_pb2.Order
    def __init__(self, order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ...) -> None: ...

class WatchOrderRequest(_message.Message):
    __slots__ = ("order_id", "min_position", "until_closed")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    UNTIL_CLOSED_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    min_position: _command_service_pb2.LogPosition
    until_closed: bool
    def __init__(self, order_id: _Optional[str] = ..., min_position: _Optional[_Union[_command_service_pb2.LogPosition, _Mapping]] = ..., until_closed: _Optional[bool] = ...) -> None: ...

class WatchOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: _order_pb2.Order
    def __init__(self, order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ...) -> None: ...

class ListOrderEventsRequest(_message.Message):
    __slots__ = ("order_id", "min_position")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    min_position: _command_service_pb2.LogPosition
    def __init__(self, order_id: _Optional[str] = ..., min_position: _Optional[_Union[_command_service_pb2.LogPosition, _Mapping]] = ...) -> None: ...

class ListOrderEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[OrderHistoryEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[OrderHistoryEvent, _Mapping]]] = ...) -> None: ...

class OrderHistoryEvent(_message.Message):
    __slots__ = ("version", "occurred_at", "kind", "checks", "reason", "state")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    version: int
    occurred_at: _timestamp_pb2.Timestamp
    kind: OrderEventKind
    checks: _containers.RepeatedCompositeFieldContainer[_order_pb2.CheckOutcome]
    reason: str
    state: _order_pb2.OrderState
    def __init__(self, version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[_Union[OrderEventKind, str]] = ..., checks: _Optional[_Iterable[_Union[_order_pb2.CheckOutcome, _Mapping]]] = ..., reason: _Optional[str] = ..., state: _Optional[_Union[_order_pb2.OrderState, str]] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("customer_id", "state", "product", "page_size", "page_token")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer_id: int
    state: _order_pb2.OrderState
    product: str
    page_size: int
    page_token: str
    def __init__(self, customer_id: _Optional[int] = ..., state: _Optional[_Union[_order_pb2.OrderState, str]] = ..., product: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders", "next_page_token")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[_order_pb2.Order]
    next_page_token: str
    def __init__(self, orders: _Optional[_Iterable[_Union[_order_pb2.Order, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchOrdersRequest(_message.Message):
    __slots__ = ("customer_id", "resume_token")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer_id: int
    resume_token: str
    def __init__(self, customer_id: _Optional[int] = ..., resume_token: _Optional[str] = ...) -> None: ...

class WatchOrdersResponse(_message.Message):
    __slots__ = ("order", "kind", "resume_token")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    order: _order_pb2.Order
    kind: OrderEventKind
    resume_token: str
    def __init__(self, order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ..., kind: _Optional[_Union[OrderEventKind, str]] = ..., resume_token: _Optional[str] = ...) -> None: ...
