"""Header list helpers: look-ups and the hop-by-hop fields a proxy must not forward."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .framing import connection_options

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
"""Fields that describe one connection, not the message (RFC 9110 §7.6.1), plus the
Proxy-* family; a proxy removes them and every field named in Connection."""


def get_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """First value of ``name`` (lower-case) in ``headers`` with lower-case names, or None."""
    for key, value in headers:
        if key == name:
            return value
    return None


def get_list_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """All values of list field ``name`` joined with ", " (RFC 9110 §5.3), or None."""
    values = [value for key, value in headers if key == name]
    return b", ".join(values) if values else None


def remove_hop_by_hop(headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` (any name case) without hop-by-hop fields, Proxy-* fields, and fields
    named in Connection; the order and name case of the others are kept."""
    named = [value for key, value in headers if key.lower() == b"connection"]
    drop = HOP_BY_HOP | connection_options(b",".join(named)) if named else HOP_BY_HOP
    return [
        (key, value)
        for key, value in headers
        if (lowered := key.lower()) not in drop and not lowered.startswith(b"proxy-")
    ]


def end_to_end_fields(
    raw: Sequence[tuple[bytes, bytes]], lowered: Sequence[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """``remove_hop_by_hop(raw)`` for a parsed message: ``lowered`` is the same field list
    with lower-case names (its ``headers``), so no name is lowered again."""
    named = [value for key, value in lowered if key == b"connection"]
    drop = HOP_BY_HOP | connection_options(b",".join(named)) if named else HOP_BY_HOP
    return [
        raw[i]
        for i, (key, _) in enumerate(lowered)
        if key not in drop and not key.startswith(b"proxy-")
    ]
