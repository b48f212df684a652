"""Primitive field codec shared by the metadata and control payloads.

Integers are big-endian; texts are UTF-8 and blobs are raw bytes, both with a u16 length
(``blob32`` for the few that may be longer). Decoders ignore trailing bytes so that a later
version can append fields. Every decoding failure is a ``TunnelProtocolError``.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable, Mapping

from .errors import ErrorCode, TunnelProtocolError, TunnelUsageError

_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_MAX16 = 0xFFFF

Headers = tuple[tuple[bytes, bytes], ...]
"""HTTP header lines as (name, value) bytes, in order, repeats allowed."""


class Reader:
    """Sequential reader over one payload."""

    __slots__ = ("_buf", "_end", "_pos")

    def __init__(self, buf: bytes | memoryview) -> None:
        self._buf = buf
        self._pos = 0
        self._end = len(buf)

    def _need(self, n: int) -> int:
        pos = self._pos
        if pos + n > self._end:
            raise TunnelProtocolError(ErrorCode.PROTOCOL_ERROR, "truncated payload")
        self._pos = pos + n
        return pos

    def u8(self) -> int:
        return int(self._buf[self._need(1)])

    def u16(self) -> int:
        value: int = _U16.unpack_from(self._buf, self._need(2))[0]
        return value

    def u32(self) -> int:
        value: int = _U32.unpack_from(self._buf, self._need(4))[0]
        return value

    def u64(self) -> int:
        value: int = _U64.unpack_from(self._buf, self._need(8))[0]
        return value

    def raw(self, n: int) -> bytes:
        pos = self._need(n)
        return bytes(self._buf[pos : pos + n])

    def blob(self) -> bytes:
        return self.raw(self.u16())

    def blob32(self) -> bytes:
        return self.raw(self.u32())

    def text(self) -> str:
        data = self.blob()
        try:
            return data.decode()
        except UnicodeDecodeError:
            raise TunnelProtocolError(ErrorCode.PROTOCOL_ERROR, "text is not UTF-8") from None

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(bytes=self.raw(16))

    def headers(self, max_count: int) -> Headers:
        count = self.u16()
        if count > max_count:
            raise TunnelProtocolError(ErrorCode.LIMIT_EXCEEDED, "too many header lines")
        buf = self._buf
        out = []
        for _ in range(count):
            n = _U16.unpack_from(buf, self._need(2))[0]
            pos = self._need(n)
            name = bytes(buf[pos : pos + n])
            n = _U16.unpack_from(buf, self._need(2))[0]
            pos = self._need(n)
            out.append((name, bytes(buf[pos : pos + n])))
        return tuple(out)

    def mapping(self) -> dict[str, str]:
        count = self.u16()
        return {self.text(): self.text() for _ in range(count)}

    def texts(self) -> tuple[str, ...]:
        return tuple(self.text() for _ in range(self.u16()))


class Writer:
    """Collects encoded fields; ``bytes()`` joins them once."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def __bytes__(self) -> bytes:
        return b"".join(self._parts)

    def u8(self, value: int) -> None:
        self._parts.append(_pack(_U8, value))

    def u16(self, value: int) -> None:
        self._parts.append(_pack(_U16, value))

    def u32(self, value: int) -> None:
        self._parts.append(_pack(_U32, value))

    def u64(self, value: int) -> None:
        self._parts.append(_pack(_U64, value))

    def raw(self, data: bytes) -> None:
        self._parts.append(data)

    def blob(self, data: bytes) -> None:
        if len(data) > _MAX16:
            raise TunnelUsageError("field longer than 65535 bytes")
        self._parts += (_U16.pack(len(data)), data)

    def blob32(self, data: bytes) -> None:
        self._parts += (_pack(_U32, len(data)), data)

    def text(self, value: str) -> None:
        self.blob(value.encode())

    def uuid(self, value: uuid.UUID) -> None:
        self._parts.append(value.bytes)

    def headers(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        items = tuple(headers)
        self.u16(len(items))
        parts = self._parts
        pack = _U16.pack
        try:
            for name, value in items:
                parts += (pack(len(name)), name, pack(len(value)), value)
        except struct.error:
            raise TunnelUsageError("header name or value longer than 65535 bytes") from None

    def mapping(self, values: Mapping[str, str]) -> None:
        self.u16(len(values))
        for key, value in values.items():
            self.text(key)
            self.text(value)

    def texts(self, values: Iterable[str]) -> None:
        items = tuple(values)
        self.u16(len(items))
        for value in items:
            self.text(value)


def _pack(fmt: struct.Struct, value: int) -> bytes:
    try:
        return fmt.pack(value)
    except struct.error:
        raise TunnelUsageError(f"integer {value} out of range for its field") from None
