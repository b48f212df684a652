"""Field sections (header and trailer lines): one regex pass, with a careful fallback.

The fast path matches every line with ``FIELD_LINE_RE`` in one ``findall`` and checks that
the number of matches equals the number of lines. Anything unusual (trailing whitespace in a
value, or any error) takes the line-by-line path, which accepts exactly the same language
and names the fault precisely.
"""

from __future__ import annotations

from .errors import RemoteProtocolError
from .syntax import FIELD_LINE_RE, FIELD_VALUE_BYTES, TOKEN_RE

Headers = list[tuple[bytes, bytes]]
"""Field lines in order: (name, value). Names are lower-case in ``headers`` and as received
in ``raw_headers``; values have surrounding whitespace removed."""


def parse_fields(
    head: bytes, start: int, max_fields: int, bad: int, too_large: int
) -> tuple[Headers, Headers]:
    """Parse the field lines of ``head`` after the LF at ``start``; ``head`` ends with CRLF.

    Returns (headers with lower-case names, headers as received). ``bad`` and ``too_large``
    are the statuses carried by the errors (400/431 for requests, 502 for responses).
    """
    count = head.count(b"\n", start) - 1
    if count > max_fields:
        raise RemoteProtocolError(f"more than {max_fields} header fields", too_large)
    raw: Headers = FIELD_LINE_RE.findall(head, start)
    if len(raw) != count:
        raw = parse_fields_careful(head[start + 1 :], bad)
    return [(name.lower(), value) for name, value in raw], raw


def parse_fields_careful(block: bytes, bad: int) -> Headers:
    """Line-by-line parse of ``block`` (field lines, each ending in CRLF); names each fault."""
    lines = block.split(b"\r\n")
    if lines[-1]:
        raise RemoteProtocolError("field section does not end with CRLF", bad)
    out: Headers = []
    for line in lines[:-1]:
        if b"\n" in line:
            raise RemoteProtocolError("bare LF in field section (CRLF required)", bad)
        if b"\r" in line:
            raise RemoteProtocolError("bare CR in field section", bad)
        if line[:1] in (b" ", b"\t"):
            raise RemoteProtocolError("obsolete line folding (obs-fold) is not accepted", bad)
        name, colon, value = line.partition(b":")
        if not colon:
            raise RemoteProtocolError("field line without a colon", bad)
        if not name:
            raise RemoteProtocolError("empty field name", bad)
        if name[-1:] in (b" ", b"\t"):
            raise RemoteProtocolError("whitespace between field name and colon", bad)
        if TOKEN_RE.fullmatch(name) is None:
            raise RemoteProtocolError("invalid character in field name", bad)
        value = value.strip(b" \t")
        if value.translate(None, FIELD_VALUE_BYTES):
            raise RemoteProtocolError("invalid character in field value", bad)
        out.append((name, value))
    return out
