"""Domain names on the wire (RFC 1035 §3.1, §4.1.4) and in presentation format.

Wire names returned here are always uncompressed: length-prefixed labels ending with the root
byte ``0x00``. Compression pointers are followed only strictly backwards (each jump lands,
and the labels it leads to end, before the start of the label run that contained it), so
loops are impossible.
"""

from __future__ import annotations

from ramparts.dns.constants import (
    HEADER_SIZE,
    MAX_LABEL_LENGTH,
    MAX_NAME_LENGTH,
    POINTER_MASK,
)
from ramparts.dns.errors import NameFormatError

ROOT = b"\x00"

_SPECIAL = b'"().;\\@$'
"""Characters escaped with a backslash in presentation format (as dnspython and BIND do)."""
_PLAIN = bytes(c for c in range(0x21, 0x7F) if c not in _SPECIAL)
"""Bytes that appear as themselves in presentation format."""
_PLAIN_OR_DOT = _PLAIN + b"."


def read_name(buf: bytes, offset: int) -> tuple[bytes, int]:
    """Return the uncompressed wire name at ``offset`` (case kept) and the offset after it.

    A pointer must land before the start of the label run holding it, and the run it lands on
    must end (with the root or another pointer) before that start too: compressed names only
    refer to data written earlier, which also makes loops impossible.
    """
    n = len(buf)
    pos = offset
    segment = offset  # start of the label run being read
    bound = n  # the run must end before this
    end = -1
    out = bytearray()
    while True:
        if pos >= bound:
            raise NameFormatError("name runs past the end of its data")
        length = buf[pos]
        if length == 0:
            out.append(0)
            return bytes(out), (pos + 1 if end < 0 else end)
        if length <= MAX_LABEL_LENGTH:
            nxt = pos + 1 + length
            if nxt > bound:
                raise NameFormatError("label runs past the end of its data")
            out += buf[pos:nxt]
            if len(out) >= MAX_NAME_LENGTH:
                raise NameFormatError("name longer than 255 octets")
            pos = nxt
        elif length & POINTER_MASK == POINTER_MASK:
            if pos + 1 >= bound:
                raise NameFormatError("compression pointer runs past the end of its data")
            target = ((length & 0x3F) << 8) | buf[pos + 1]
            if target >= segment or target < HEADER_SIZE:
                raise NameFormatError("compression pointer does not point backwards")
            if end < 0:
                end = pos + 2
            bound = segment
            segment = target
            pos = target
        else:
            raise NameFormatError(f"unsupported label type 0x{length:02x}")


def skip_name(buf: bytes, offset: int) -> int:
    """Return the offset just after the (possibly compressed) name at ``offset``.

    Pointers are checked to point backwards but not followed; use ``read_name`` when the name
    itself matters.
    """
    n = len(buf)
    pos = offset
    total = 0
    while True:
        if pos >= n:
            raise NameFormatError("name runs past the end of the message")
        length = buf[pos]
        if length == 0:
            return pos + 1
        if length <= MAX_LABEL_LENGTH:
            pos += 1 + length
            total += 1 + length
            if total >= MAX_NAME_LENGTH:
                raise NameFormatError("name longer than 255 octets")
        elif length & POINTER_MASK == POINTER_MASK:
            if pos + 1 >= n:
                raise NameFormatError("compression pointer runs past the end")
            target = ((length & 0x3F) << 8) | buf[pos + 1]
            if target >= offset or target < HEADER_SIZE:
                raise NameFormatError("compression pointer does not point backwards")
            return pos + 2
        else:
            raise NameFormatError(f"unsupported label type 0x{length:02x}")


def name_to_text(wire: bytes) -> str:
    """Presentation text of an uncompressed wire name, without the final dot ("." for root).

    Special characters get a backslash and other unprintable bytes ``\\DDD``, like dnspython's
    ``to_text(omit_final_dot=True)``.
    """
    labels = split_labels(wire)
    if not labels:
        return "."
    joined = b".".join(labels)
    if not joined.translate(None, _PLAIN_OR_DOT) and joined.count(b".") == len(labels) - 1:
        return joined.decode("ascii")
    return ".".join(_escape(label) for label in labels)


def split_labels(wire: bytes) -> list[bytes]:
    """The labels of an uncompressed wire name, root excluded."""
    labels: list[bytes] = []
    pos = 0
    while True:
        length = wire[pos]
        if length == 0:
            return labels
        labels.append(wire[pos + 1 : pos + 1 + length])
        pos += 1 + length


def _escape(label: bytes) -> str:
    parts: list[str] = []
    for c in label:
        if c in _SPECIAL:
            parts.append("\\" + chr(c))
        elif 0x20 < c < 0x7F:
            parts.append(chr(c))
        else:
            parts.append(f"\\{c:03d}")
    return "".join(parts)


def name_from_text(text: str) -> bytes:
    """Wire form of a presentation-format name ("example.com", "example.com.", "." for root).

    Understands ``\\X`` and ``\\DDD`` escapes; non-ASCII labels go through IDNA (2003, stdlib).
    Raises ``NameFormatError`` on empty labels and on label or name length limits.
    """
    if text in ("", "."):
        return ROOT
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise NameFormatError(f"cannot encode {text!r} with IDNA") from exc
    labels: list[bytes] = []
    current = bytearray()
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            if i + 1 >= n:
                raise NameFormatError("name ends with a lone backslash")
            if text[i + 1 : i + 4].isdigit() and len(text[i + 1 : i + 4]) == 3:
                value = int(text[i + 1 : i + 4])
                if value > 0xFF:
                    raise NameFormatError("\\DDD escape above 255")
                current.append(value)
                i += 4
                continue
            current += text[i + 1].encode("ascii")
            i += 2
            continue
        if ch == ".":
            if not current:
                raise NameFormatError("empty label")
            labels.append(bytes(current))
            current = bytearray()
            i += 1
            continue
        current += ch.encode("ascii")
        i += 1
    if current:
        labels.append(bytes(current))
    return labels_to_wire(labels)


def labels_to_wire(labels: list[bytes]) -> bytes:
    """Join labels into an uncompressed wire name, checking the RFC 1035 limits."""
    out = bytearray()
    for label in labels:
        if not label:
            raise NameFormatError("empty label")
        if len(label) > MAX_LABEL_LENGTH:
            raise NameFormatError("label longer than 63 octets")
        out.append(len(label))
        out += label
    out.append(0)
    if len(out) > MAX_NAME_LENGTH:
        raise NameFormatError("name longer than 255 octets")
    return bytes(out)
