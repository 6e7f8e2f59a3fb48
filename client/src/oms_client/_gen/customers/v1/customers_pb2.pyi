from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CustomerLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CUSTOMER_LEVEL_UNSPECIFIED: _ClassVar[CustomerLevel]
    CUSTOMER_LEVEL_BRONZE: _ClassVar[CustomerLevel]
    CUSTOMER_LEVEL_SILVER: _ClassVar[CustomerLevel]
    CUSTOMER_LEVEL_GOLD: _ClassVar[CustomerLevel]
    CUSTOMER_LEVEL_PLATINUM: _ClassVar[CustomerLevel]
CUSTOMER_LEVEL_UNSPECIFIED: CustomerLevel
CUSTOMER_LEVEL_BRONZE: CustomerLevel
CUSTOMER_LEVEL_SILVER: CustomerLevel
CUSTOMER_LEVEL_GOLD: CustomerLevel
CUSTOMER_LEVEL_PLATINUM: CustomerLevel

class Customer(_message.Message):
    __slots__ = ("customer_id", "first_name", "last_name", "email", "address", "level")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    customer_id: int
    first_name: str
    last_name: str
    email: str
    address: str
    level: CustomerLevel
    def __init__(self, customer_id: _Optional[int] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., email: _Optional[str] = ..., address: _Optional[str] = ..., level: _Optional[_Union[CustomerLevel, str]] = ...) -> None: ...

class UpsertCustomerRequest(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class UpsertCustomerResponse(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class GetCustomerRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: int
    def __init__(self, customer_id: _Optional[int] = ...) -> None: ...

class GetCustomerResponse(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...
