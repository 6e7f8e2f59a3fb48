import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from oms.orders.v1 import order_pb2 as _order_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrderEvent(_message.Message):
    __slots__ = ("order_id", "version", "occurred_at", "order", "placed", "validated", "failed", "cancelled", "shipped")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PLACED_FIELD_NUMBER: _ClassVar[int]
    VALIDATED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    SHIPPED_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    version: int
    occurred_at: _timestamp_pb2.Timestamp
    order: _order_pb2.Order
    placed: OrderPlaced
    validated: OrderValidated
    failed: OrderFailed
    cancelled: OrderCancelled
    shipped: OrderShipped
    def __init__(self, order_id: _Optional[str] = ..., version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ..., placed: _Optional[_Union[OrderPlaced, _Mapping]] = ..., validated: _Optional[_Union[OrderValidated, _Mapping]] = ..., failed: _Optional[_Union[OrderFailed, _Mapping]] = ..., cancelled: _Optional[_Union[OrderCancelled, _Mapping]] = ..., shipped: _Optional[_Union[OrderShipped, _Mapping]] = ...) -> None: ...

class OrderPlaced(_message.Message):
    __slots__ = ("customer_id", "product", "quantity", "price")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    customer_id: int
    product: str
    quantity: int
    price: float
    def __init__(self, customer_id: _Optional[int] = ..., product: _Optional[str] = ..., quantity: _Optional[int] = ..., price: _Optional[float] = ...) -> None: ...

class OrderValidated(_message.Message):
    __slots__ = ("checks",)
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    checks: _containers.RepeatedCompositeFieldContainer[_order_pb2.CheckOutcome]
    def __init__(self, checks: _Optional[_Iterable[_Union[_order_pb2.CheckOutcome, _Mapping]]] = ...) -> None: ...

class OrderFailed(_message.Message):
    __slots__ = ("checks",)
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    checks: _containers.RepeatedCompositeFieldContainer[_order_pb2.CheckOutcome]
    def __init__(self, checks: _Optional[_Iterable[_Union[_order_pb2.CheckOutcome, _Mapping]]] = ...) -> None: ...

class OrderCancelled(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class OrderShipped(_message.Message):
    __slots__ = ("paid",)
    PAID_FIELD_NUMBER: _ClassVar[int]
    paid: float
    def __init__(self, paid: _Optional[float] = ...) -> None: ...

class OrderCommand(_message.Message):
    __slots__ = ("order_id", "cancel", "ship", "order")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    SHIP_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    cancel: CancelRequested
    ship: ShipRequested
    order: _order_pb2.Order
    def __init__(self, order_id: _Optional[str] = ..., cancel: _Optional[_Union[CancelRequested, _Mapping]] = ..., ship: _Optional[_Union[ShipRequested, _Mapping]] = ..., order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ...) -> None: ...

class CancelRequested(_message.Message):
    __slots__ = ("order_id", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    reason: str
    def __init__(self, order_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ShipRequested(_message.Message):
    __slots__ = ("order_id", "paid")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    paid: float
    def __init__(self, order_id: _Optional[str] = ..., paid: _Optional[float] = ...) -> None: ...

class OrderValidation(_message.Message):
    __slots__ = ("order_id", "outcome")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    outcome: _order_pb2.CheckOutcome
    def __init__(self, order_id: _Optional[str] = ..., outcome: _Optional[_Union[_order_pb2.CheckOutcome, _Mapping]] = ...) -> None: ...
