import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from oms.orders.v1 import events_pb2 as _events_pb2
from oms.orders.v1 import order_pb2 as _order_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HoldState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLD_STATE_UNSPECIFIED: _ClassVar[HoldState]
    HOLD_STATE_HELD: _ClassVar[HoldState]
    HOLD_STATE_RELEASED: _ClassVar[HoldState]
    HOLD_STATE_REFUSED: _ClassVar[HoldState]
    HOLD_STATE_SHIPPED: _ClassVar[HoldState]
HOLD_STATE_UNSPECIFIED: HoldState
HOLD_STATE_HELD: HoldState
HOLD_STATE_RELEASED: HoldState
HOLD_STATE_REFUSED: HoldState
HOLD_STATE_SHIPPED: HoldState

class FraudCandidate(_message.Message):
    __slots__ = ("order_id", "customer_id", "amount", "placed_at")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PLACED_AT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    customer_id: int
    amount: float
    placed_at: _timestamp_pb2.Timestamp
    def __init__(self, order_id: _Optional[str] = ..., customer_id: _Optional[int] = ..., amount: _Optional[float] = ..., placed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class InventoryClaim(_message.Message):
    __slots__ = ("order_id", "product", "quantity", "reserve", "release", "ship")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    RESERVE_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    SHIP_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    product: str
    quantity: int
    reserve: bool
    release: bool
    ship: bool
    def __init__(self, order_id: _Optional[str] = ..., product: _Optional[str] = ..., quantity: _Optional[int] = ..., reserve: _Optional[bool] = ..., release: _Optional[bool] = ..., ship: _Optional[bool] = ...) -> None: ...

class FraudSessions(_message.Message):
    __slots__ = ("sessions",)
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[FraudSession]
    def __init__(self, sessions: _Optional[_Iterable[_Union[FraudSession, _Mapping]]] = ...) -> None: ...

class FraudSession(_message.Message):
    __slots__ = ("start", "end", "total")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    total: float
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., total: _Optional[float] = ...) -> None: ...

class ProductInventory(_message.Message):
    __slots__ = ("stocked", "quantity", "reserved", "update_id")
    STOCKED_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    stocked: bool
    quantity: int
    reserved: int
    update_id: str
    def __init__(self, stocked: _Optional[bool] = ..., quantity: _Optional[int] = ..., reserved: _Optional[int] = ..., update_id: _Optional[str] = ...) -> None: ...

class Hold(_message.Message):
    __slots__ = ("quantity", "state")
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    quantity: int
    state: HoldState
    def __init__(self, quantity: _Optional[int] = ..., state: _Optional[_Union[HoldState, str]] = ...) -> None: ...

class PendingVerdict(_message.Message):
    __slots__ = ("order", "outcomes", "deadline", "decided", "commands", "closed")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    DECIDED_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    order: _order_pb2.Order
    outcomes: _containers.RepeatedCompositeFieldContainer[_order_pb2.CheckOutcome]
    deadline: _timestamp_pb2.Timestamp
    decided: bool
    commands: _containers.RepeatedCompositeFieldContainer[_events_pb2.OrderCommand]
    closed: bool
    def __init__(self, order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ..., outcomes: _Optional[_Iterable[_Union[_order_pb2.CheckOutcome, _Mapping]]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided: _Optional[bool] = ..., commands: _Optional[_Iterable[_Union[_events_pb2.OrderCommand, _Mapping]]] = ..., closed: _Optional[bool] = ...) -> None: ...
