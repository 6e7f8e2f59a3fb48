from oms.customers.v1 import customers_pb2 as _customers_pb2
from oms.orders.v1 import order_pb2 as _order_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrderEnriched(_message.Message):
    __slots__ = ("order_id", "customer_id", "customer_level", "order")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_LEVEL_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    customer_id: int
    customer_level: _customers_pb2.CustomerLevel
    order: _order_pb2.Order
    def __init__(self, order_id: _Optional[str] = ..., customer_id: _Optional[int] = ..., customer_level: _Optional[_Union[_customers_pb2.CustomerLevel, str]] = ..., order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ...) -> None: ...
