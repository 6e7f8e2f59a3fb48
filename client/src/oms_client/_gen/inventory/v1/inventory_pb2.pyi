from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SetStockRequest(_message.Message):
    __slots__ = ("product", "quantity")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    product: str
    quantity: int
    def __init__(self, product: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class SetStockResponse(_message.Message):
    __slots__ = ("stock",)
    STOCK_FIELD_NUMBER: _ClassVar[int]
    stock: ProductStock
    def __init__(self, stock: _Optional[_Union[ProductStock, _Mapping]] = ...) -> None: ...

class GetStockRequest(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: str
    def __init__(self, product: _Optional[str] = ...) -> None: ...

class GetStockResponse(_message.Message):
    __slots__ = ("stock",)
    STOCK_FIELD_NUMBER: _ClassVar[int]
    stock: ProductStock
    def __init__(self, stock: _Optional[_Union[ProductStock, _Mapping]] = ...) -> None: ...

class ProductStock(_message.Message):
    __slots__ = ("product", "quantity", "reserved")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    product: str
    quantity: int
    reserved: int
    def __init__(self, product: _Optional[str] = ..., quantity: _Optional[int] = ..., reserved: _Optional[int] = ...) -> None: ...

class StockLevel(_message.Message):
    __slots__ = ("product", "quantity", "update_id")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    product: str
    quantity: int
    update_id: str
    def __init__(self, product: _Optional[str] = ..., quantity: _Optional[int] = ..., update_id: _Optional[str] = ...) -> None: ...

class InventoryLevel(_message.Message):
    __slots__ = ("product", "stocked", "quantity", "reserved", "update_id")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    STOCKED_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    product: str
    stocked: bool
    quantity: int
    reserved: int
    update_id: str
    def __init__(self, product: _Optional[str] = ..., stocked: _Optional[bool] = ..., quantity: _Optional[int] = ..., reserved: _Optional[int] = ..., update_id: _Optional[str] = ...) -> None: ...
