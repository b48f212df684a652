"""Named limits and defaults of the forward proxy, each with its reason."""

from __future__ import annotations

DEFAULT_PROXY_PORT = 7846
"""Plain HTTP proxy listener (3128 is squid's; ours sits beside the other edge ports)."""
DEFAULT_PROXY_TLS_PORT = 7847
"""The same proxy over TLS: the PAC form ``HTTPS host:port`` (credentials never in clear)."""

HEAD_TIMEOUT = 15.0
"""Seconds for a client's first request head to arrive (slow-loris bound)."""
IDLE_TIMEOUT = 60.0
"""Seconds a keep-alive client connection, or a CONNECT tunnel, may stay silent (squid's
``client_idle_pconn_timeout`` is 2 minutes, its ``read_timeout`` 15; one minute sits between)."""
TOTAL_TIMEOUT: float | None = None
"""Longest life of one request or tunnel in seconds; None: no cap (long downloads, SSE)."""
CONNECT_TIMEOUT = 10.0
"""Seconds to open a connection to a destination (DNS included)."""
ORIGIN_IDLE_TIMEOUT = 30.0
"""Idle pooled origin connections older than this are not reused (origins close at 60-75 s)."""
ORIGIN_POOL_PER_KEY = 64
"""Idle keep-alive connections kept per destination."""
MAX_CONNECTIONS = 10_000
"""Client connections per edge; beyond this new ones are closed at once."""
MAX_INFORMATIONAL = 16
"""1xx responses skipped before the final one (an endless stream of 100s is hostile)."""
MAX_URL_LOGGED = 2048
"""Characters of a URL kept in the request log."""
SESSION_CACHE_SECONDS = 15.0
"""How long a browser session (source IP -> user) found in the store is reused without asking
the store again: a logout takes at most this long to reach the proxy."""
SESSION_MISS_SECONDS = 1.0
"""How long "no session for this IP" is remembered (a login shows up within a second)."""
MAX_CACHED_SESSIONS = 65_536
"""Entries of the session cache (one per client IP and endpoint)."""
MINTED_CERT_CACHE = 1024
"""Per-host certificates kept for TLS inspection (minting one costs ~1 ms of EC signing)."""
SPLICE_CHUNK = 1024 * 1024
"""Bytes moved per splice(2) call on a CONNECT tunnel (pipe capacity is raised to this)."""
COPY_CHUNK = 256 * 1024
"""Read size when bytes must pass through user space (TLS on either side)."""
