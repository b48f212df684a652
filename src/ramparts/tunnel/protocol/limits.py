"""Named limits and defaults of the tunnel mux, each with its reason."""

from __future__ import annotations

MUX_VERSION = 1
"""Version of the TCP mux framing, first field of REGISTER (the QUIC transport uses ALPN)."""

FRAME_HEADER_SIZE = 10
"""type u8, flags u8, stream id u32, payload length u32 (big-endian)."""

MAX_FRAME_PAYLOAD = 1 << 20
"""Largest payload of any frame (1 MiB). Control frames are buffered whole, so this bounds
per-connection buffering; DATA payloads are handed on as they arrive and never buffered."""

DEFAULT_MAX_DATA_FRAME = 64 * 1024
"""Largest DATA frame this side emits by default: big enough that header cost is noise, small
enough that an interactive stream waits at most one frame behind a bulk one."""

MAX_HEAD_PAYLOAD = 128 * 1024
"""Largest STREAM_OPEN / STREAM_OPEN_ACK payload (request or response head). Common servers
refuse heads above 8-64 KiB; twice the largest of those."""

MAX_HEADER_COUNT = 1024
"""Most header lines in one head; bounds the work of decoding one frame."""

MAX_STREAM_ID = 0xFFFF_FFFF
"""Stream ids are u32; the edge uses odd ids, increasing, so about 2**31 streams per
connection. When spent, the edge sends GOAWAY and the connector redials."""

DEFAULT_STREAM_WINDOW = 4 * 1024 * 1024
"""Per-stream receive window: 4 MiB fills ~330 Mbit/s at 100 ms RTT, 3 Gbit/s at 10 ms."""

DEFAULT_CONNECTION_WINDOW = 16 * 1024 * 1024
"""Per-connection receive window: four full-speed streams at once."""

MIN_WINDOW = 16 * 1024
"""Smallest window a side may announce; smaller windows make every stream crawl."""

MAX_WINDOW = 0x7FFF_FFFF
"""Largest flow-control window (as RFC 9113 §6.9.1): keeps window arithmetic in 31 bits."""

WINDOW_UPDATE_DIVISOR = 4
"""Credit goes back to the sender once a quarter of a window is consumed: few updates, and the
sender never idles while the update is in flight if window >= bandwidth * RTT * 4/3."""

DEFAULT_MAX_CONCURRENT_STREAMS = 1024
"""Streams a connector accepts at once per connection (four HA connections: 4096 requests)."""

MAX_CONCURRENT_STREAMS_LIMIT = 65536
"""Upper bound on the announced max_concurrent_streams: a stream flood stays bounded."""

PING_PAYLOAD_SIZE = 8
"""PING/PONG carry exactly 8 opaque bytes (as HTTP/2): room for a monotonic timestamp."""

MAX_REASON_BYTES = 1024
"""Longest free-text reason in GOAWAY, failed stream opens and CONFIG_ACK (UTF-8 bytes)."""

MAX_DATAGRAM_PAYLOAD = 65535
"""Largest DATAGRAM payload: one whole IPv4/IPv6 (non-jumbo) packet or UDP payload."""

MAX_CONFIG_SNAPSHOT = 16 * 1024 * 1024
"""Largest config snapshot pushed to a connector (CONFIG_PUSH fragments reassembled)."""
