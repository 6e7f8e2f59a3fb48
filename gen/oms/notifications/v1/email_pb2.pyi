import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from oms.customers.v1 import customers_pb2 as _customers_pb2
from oms.orders.v1 import order_pb2 as _order_pb2
from oms.payments.v1 import payments_pb2 as _payments_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EmailRequested(_message.Message):
    __slots__ = ("email_id", "order_id", "customer", "order", "payment")
    EMAIL_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    email_id: str
    order_id: str
    customer: _customers_pb2.Customer
    order: _order_pb2.Order
    payment: _payments_pb2.Payment
    def __init__(self, email_id: _Optional[str] = ..., order_id: _Optional[str] = ..., customer: _Optional[_Union[_customers_pb2.Customer, _Mapping]] = ..., order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ..., payment: _Optional[_Union[_payments_pb2.Payment, _Mapping]] = ...) -> None: ...

class EmailAttempt(_message.Message):
    __slots__ = ("request", "attempts", "next_attempt_at", "last_error")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    request: EmailRequested
    attempts: int
    next_attempt_at: _timestamp_pb2.Timestamp
    last_error: str
    def __init__(self, request: _Optional[_Union[EmailRequested, _Mapping]] = ..., attempts: _Optional[int] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ...) -> None: ...
