"""Named limits of the HTTP/1.1 parser, each with its reason, and the ``Limits`` bundle."""

from __future__ import annotations

from dataclasses import dataclass

MAX_REQUEST_LINE = 8192
"""Longest request-line (method, target, version) in bytes, else 414. RFC 9112 §3 asks for at
least 8000 octets; nginx and Apache refuse lines past 8 KiB by default."""

MAX_REQUEST_HEAD = 32 * 1024
"""Largest request head (request-line + fields), else 431. nginx's default total is 4 x 8 KiB
buffers, Node's 16 KiB; 32 KiB leaves room for large cookies and bounds per-connection memory."""

MAX_RESPONSE_HEAD = 64 * 1024
"""Largest response head from an origin, else 502: origins send long Content-Security-Policy
and many Set-Cookie lines; twice the request limit."""

MAX_REQUEST_FIELDS = 100
"""Most field lines in a request head or trailer section, else 431 (Apache's default)."""

MAX_RESPONSE_FIELDS = 256
"""Most field lines in a response head or trailer section, else 502 (Set-Cookie heavy sites)."""

MAX_CHUNK_LINE = 4096
"""Longest chunk-size line including chunk extensions, else 400. RFC 9112 §7.1.1 puts no bound
on extensions; unbounded ones let a peer make us buffer without ever sending data."""

MAX_CHUNK_SIZE_DIGITS = 16
"""Most hex digits in a chunk size (2**64 - 1); longer sizes are refused, not parsed as bigints."""

MAX_CONTENT_LENGTH_DIGITS = 18
"""Most decimal digits in Content-Length (< 10**18, fits int64); longer is answered with 413."""

MAX_MEMO_BLOCK = 8 * 1024
"""Largest field section a connection remembers to skip re-parsing an identical next one
(memo.py): covers browser heads with cookies; bounds idle memory per connection."""

MAX_PIPELINED_REQUESTS = 16
"""Requests a server parses ahead of its responses; past this ``next_event`` returns PAUSED
so that a client cannot queue unbounded work by pipelining (the driver stops reading)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits applied by one connection (SERVER_LIMITS suit a public edge, CLIENT_LIMITS an
    origin client); the start-line limit covers status lines too."""

    max_request_line: int = MAX_REQUEST_LINE
    max_head: int = MAX_REQUEST_HEAD  # also bounds a trailer section
    max_fields: int = MAX_REQUEST_FIELDS  # also bounds a trailer section
    max_chunk_line: int = MAX_CHUNK_LINE
    max_body: int | None = None
    """Largest body received (413 for requests, 502 for responses); None: no limit here."""
    max_pipelined: int = MAX_PIPELINED_REQUESTS


SERVER_LIMITS = Limits()
CLIENT_LIMITS = Limits(max_head=MAX_RESPONSE_HEAD, max_fields=MAX_RESPONSE_FIELDS)
