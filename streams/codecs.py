"""Codecs: how a typed value becomes bytes in a store or on a topic, and back.

A codec's `decode` raises `CodecError` (a ValueError) for bytes it cannot
read; `streams.processor.decode` turns that into a dead letter. Protobuf
messages are encoded by duck typing (`FromString`/`SerializeToString`), so
this module needs no protobuf import.
"""

from __future__ import annotations

import struct
from typing import Generic, Protocol, Self, TypeVar

T = TypeVar("T")


class Message(Protocol):
    """What a protobuf message offers (streams imports no protobuf)."""

    def SerializeToString(self) -> bytes: ...

    @classmethod
    def FromString(cls, raw: bytes) -> Self: ...


M = TypeVar("M", bound=Message)


class CodecError(ValueError):
    """Bytes a codec cannot decode."""


class Codec(Protocol[T]):
    def encode(self, value: T) -> bytes: ...

    def decode(self, raw: bytes) -> T:
        """The value; raises ValueError (CodecError) for bytes that are not one."""
        ...


class BytesCodec:
    def encode(self, value: bytes) -> bytes:
        return value

    def decode(self, raw: bytes) -> bytes:
        return raw


class StrCodec:
    """UTF-8 text."""

    def encode(self, value: str) -> bytes:
        return value.encode()

    def decode(self, raw: bytes) -> str:
        try:
            return raw.decode()
        except UnicodeDecodeError as exc:
            raise CodecError(f"not UTF-8 text: {exc}") from exc


class IntCodec:
    """An integer in decimal digits (b"42"): readable, and what ids on topic keys look like."""

    def encode(self, value: int) -> bytes:
        return str(value).encode()

    def decode(self, raw: bytes) -> int:
        try:
            return int(raw)
        except ValueError as exc:
            raise CodecError(f"not a decimal integer: {raw!r}") from exc


class Int64Codec:
    """A signed 64-bit big-endian integer."""

    def encode(self, value: int) -> bytes:
        return struct.pack(">q", value)

    def decode(self, raw: bytes) -> int:
        if len(raw) != 8:
            raise CodecError(f"not a 64-bit integer: {len(raw)} bytes")
        return int(struct.unpack(">q", raw)[0])


class EmptyCodec:
    """A marker: the key is the whole information, the value is empty."""

    def encode(self, value: None) -> bytes:
        return b""

    def decode(self, raw: bytes) -> None:
        return None


class ProtobufCodec(Generic[M]):
    """A protobuf message type; empty bytes decode to the default message."""

    def __init__(self, message_type: type[M]) -> None:
        self.message_type = message_type
        self.name = message_type.__name__

    def encode(self, value: M) -> bytes:
        return value.SerializeToString()

    def decode(self, raw: bytes) -> M:
        try:
            return self.message_type.FromString(raw)
        except Exception as exc:  # protobuf's DecodeError, without importing protobuf here
            article = "an" if self.name[:1] in "AEIOU" else "a"
            raise CodecError(f"not {article} {self.name}: {exc}") from exc


class PartsCodec:
    """A key of several text parts joined by "/".

    A prefix of the parts encodes, with its trailing "/", the start of every
    key that begins with them (see `Store.scan`). Decoding splits at the
    first slashes, so only the last part may itself contain "/" and still
    come back the same.
    """

    def __init__(self, parts: int) -> None:
        if parts < 2:
            raise ValueError("a PartsCodec joins at least two parts")
        self.parts = parts

    def encode(self, value: tuple[str, ...]) -> bytes:
        if len(value) != self.parts:
            raise ValueError(f"expected {self.parts} parts, got {len(value)}")
        return self.encode_prefix(value[:-1]) + value[-1].encode()

    def encode_prefix(self, head: tuple[str, ...]) -> bytes:
        if len(head) >= self.parts:
            raise ValueError(f"a prefix has fewer than {self.parts} parts")
        return b"".join(part.encode() + b"/" for part in head)

    def decode(self, raw: bytes) -> tuple[str, ...]:
        parts = raw.split(b"/", self.parts - 1)
        if len(parts) != self.parts:
            raise CodecError(f"not {self.parts} parts: {raw!r}")
        try:
            return tuple(part.decode() for part in parts)
        except UnicodeDecodeError as exc:
            raise CodecError(f"not UTF-8 text: {exc}") from exc


BYTES = BytesCodec()
STR = StrCodec()
INT = IntCodec()
INT64 = Int64Codec()
EMPTY = EmptyCodec()


def protobuf(message_type: type[M]) -> ProtobufCodec[M]:
    return ProtobufCodec(message_type)


__all__ = [
    "BYTES",
    "EMPTY",
    "INT",
    "INT64",
    "STR",
    "Codec",
    "CodecError",
    "PartsCodec",
    "ProtobufCodec",
    "protobuf",
]
