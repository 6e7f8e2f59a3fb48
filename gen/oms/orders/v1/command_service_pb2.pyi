from oms.orders.v1 import order_pb2 as _order_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PlaceOrderRequest(_message.Message):
    __slots__ = ("order_id", "customer_id", "product", "quantity", "price")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    customer_id: int
    product: str
    quantity: int
    price: float
    def __init__(self, order_id: _Optional[str] = ..., customer_id: _Optional[int] = ..., product: _Optional[str] = ..., quantity: _Optional[int] = ..., price: _Optional[float] = ...) -> None: ...

class PlaceOrderResponse(_message.Message):
    __slots__ = ("order", "position", "created")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    order: _order_pb2.Order
    position: LogPosition
    created: bool
    def __init__(self, order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ..., position: _Optional[_Union[LogPosition, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class CancelOrderRequest(_message.Message):
    __slots__ = ("order_id", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    reason: str
    def __init__(self, order_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelOrderResponse(_message.Message):
    __slots__ = ("order", "position", "changed")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    order: _order_pb2.Order
    position: LogPosition
    changed: bool
    def __init__(self, order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ..., position: _Optional[_Union[LogPosition, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...

class ShipOrderRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class ShipOrderResponse(_message.Message):
    __slots__ = ("order", "position", "changed")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    order: _order_pb2.Order
    position: LogPosition
    changed: bool
    def __init__(self, order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ..., position: _Optional[_Union[LogPosition, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...

class LogPosition(_message.Message):
    __slots__ = ("partition", "offset")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    partition: int
    offset: int
    def __init__(self, partition: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...
