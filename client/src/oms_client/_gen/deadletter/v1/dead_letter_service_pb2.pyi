from oms_client._gen.deadletter.v1 import dead_letter_pb2 as _dead_letter_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListDeadLettersRequest(_message.Message):
    __slots__ = ("processor", "page_size", "page_token")
    PROCESSOR_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    processor: str
    page_size: int
    page_token: str
    def __init__(self, processor: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDeadLettersResponse(_message.Message):
    __slots__ = ("dead_letters", "next_page_token")
    DEAD_LETTERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dead_letters: _containers.RepeatedCompositeFieldContainer[DeadLetterEntry]
    next_page_token: str
    def __init__(self, dead_letters: _Optional[_Iterable[_Union[DeadLetterEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeadLetterEntry(_message.Message):
    __slots__ = ("partition", "offset", "dead_letter")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTER_FIELD_NUMBER: _ClassVar[int]
    partition: int
    offset: int
    dead_letter: _dead_letter_pb2.DeadLetter
    def __init__(self, partition: _Optional[int] = ..., offset: _Optional[int] = ..., dead_letter: _Optional[_Union[_dead_letter_pb2.DeadLetter, _Mapping]] = ...) -> None: ...
