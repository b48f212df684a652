"""One-entry memory of the last field section parsed on a connection.

Keep-alive clients repeat their fields request after request (same User-Agent, Accept,
Cookie...), and origins theirs. When the next head carries a byte-identical field section, its
parse (the regex pass, lower-casing, framing scan) is reused: one memcmp instead of ~4 us.
The memory holds tuples; events get fresh lists, so callers may mutate what they receive.
"""

from __future__ import annotations

from .fields import Headers
from .framing import Specials
from .limits import MAX_MEMO_BLOCK

_NO_SPECIALS: Specials = (None, None, None, None, None, None, False)


class FieldMemo:
    """The last field section (bytes after the start line) and what parsing it produced."""

    __slots__ = ("block", "headers", "raw", "specials")

    def __init__(self) -> None:
        self.block = b""
        self.headers: tuple[tuple[bytes, bytes], ...] = ()
        self.raw: tuple[tuple[bytes, bytes], ...] = ()
        self.specials = _NO_SPECIALS

    def store(self, block: bytes, headers: Headers, raw: Headers, specials: Specials) -> None:
        if len(block) > MAX_MEMO_BLOCK:
            block, headers, raw, specials = b"", [], [], _NO_SPECIALS
        self.block = block
        self.headers = tuple(headers)
        self.raw = tuple(raw)
        self.specials = specials
