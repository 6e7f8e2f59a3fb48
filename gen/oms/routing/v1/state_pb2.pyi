import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from oms.customers.v1 import customers_pb2 as _customers_pb2
from oms.orders.v1 import order_pb2 as _order_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PendingOrder(_message.Message):
    __slots__ = ("order", "deadline", "source_topic", "source_partition", "source_offset")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TOPIC_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PARTITION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_OFFSET_FIELD_NUMBER: _ClassVar[int]
    order: _order_pb2.Order
    deadline: _timestamp_pb2.Timestamp
    source_topic: str
    source_partition: int
    source_offset: int
    def __init__(self, order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source_topic: _Optional[str] = ..., source_partition: _Optional[int] = ..., source_offset: _Optional[int] = ...) -> None: ...

class CustomerOrder(_message.Message):
    __slots__ = ("order", "customer")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    order: _order_pb2.Order
    customer: _customers_pb2.Customer
    def __init__(self, order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ..., customer: _Optional[_Union[_customers_pb2.Customer, _Mapping]] = ...) -> None: ...
