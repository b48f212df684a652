"""Pieces of request targets and Host values, for proxies and routing (RFC 9110 §4, §7.2)."""

from __future__ import annotations

import re

from .errors import RemoteProtocolError

_ABSOLUTE_RE = re.compile(rb"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)(.*)", re.DOTALL)
_AUTHORITY_RE = re.compile(rb"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::([0-9]*))?")
MAX_PORT = 65535


def split_absolute(target: bytes) -> tuple[bytes, bytes, bytes]:
    """(scheme in lower case, authority, origin-form path) of an absolute-form target such
    as ``http://example.com:8080/a?b``; an empty path becomes ``/`` (RFC 9112 §3.2.1) and a
    fragment is dropped. Userinfo (``user@host``) is refused (RFC 9110 §4.2.4)."""
    match = _ABSOLUTE_RE.fullmatch(target)
    if match is None:
        raise RemoteProtocolError("not an absolute-form target", 400)
    scheme, authority, rest = match.groups()
    if b"@" in authority:
        raise RemoteProtocolError("userinfo in target authority", 400)
    rest = rest.partition(b"#")[0]
    if not rest.startswith(b"/"):
        rest = b"/" + rest
    return scheme.lower(), authority, rest


def split_authority(authority: bytes) -> tuple[bytes, int | None]:
    """(host in lower case, port or None) of ``host[:port]``; IPv6 literals keep their
    brackets. An empty port (``host:``) is None, as RFC 3986 §3.2.3 allows."""
    match = _AUTHORITY_RE.fullmatch(authority)
    if match is None:
        raise RemoteProtocolError("invalid authority", 400)
    host, port = match.groups()
    if not port:
        return host.lower(), None
    if len(port) > 5 or int(port) > MAX_PORT:
        raise RemoteProtocolError("port out of range", 400)
    return host.lower(), int(port)
