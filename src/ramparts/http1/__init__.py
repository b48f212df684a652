"""Sans-IO HTTP/1.1 (RFC 9110/9112): strict, incremental parsing and fast serialising.

``ServerConnection`` parses requests and frames responses; ``ClientConnection`` frames
requests and parses responses. Both take bytes (``feed``) and hand out events
(``next_event``); neither touches sockets or clocks. Bad input raises
``RemoteProtocolError`` carrying the status to answer; nothing else escapes the parser.

Strictness (each refusal is a RemoteProtocolError; requests 400 unless said, responses 502):
- CRLF only: a bare LF or bare CR anywhere in a head, chunk line or trailer is refused.
  RFC 9112 §2.2 allows accepting bare LF; we do not, because two hops that split lines
  differently is how requests get smuggled, and every real client sends CRLF.
- obs-fold, whitespace between field name and colon, non-token names, CTLs in values.
- Content-Length and Transfer-Encoding together; differing Content-Length values
  (identical repeats such as "5, 5" count once, RFC 9110 §8.6); non-decimal lengths;
  Transfer-Encoding other than a lone final ``chunked`` (other codings before it: 501);
  Transfer-Encoding in HTTP/1.0; CONNECT with content.
- Chunk sizes: hex digits only (at most 16), extensions validated then dropped, CRLF after
  data required.
- Requests: single-SP request line, token method, VCHAR-only target in a form that suits the
  method (asterisk only for OPTIONS, authority only for CONNECT), exactly one valid Host in
  HTTP/1.1, HTTP/1.x only (2.0 and 0.9: 505; 1.2+ handled as 1.1). Empty lines before a
  request are skipped (RFC 9112 §2.2).
- Limits (``limits.py``): request line 8 KiB (414), head 32 KiB (431; responses 64 KiB),
  100 fields (431; responses 256), chunk line 4 KiB, optional body limit (413), 16
  pipelined requests parsed ahead of responses.
"""

from .client import ClientConnection
from .errors import HttpError, LocalProtocolError, RemoteProtocolError
from .events import (
    CONNECTION_CLOSED,
    END_OF_MESSAGE,
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    InformationalResponse,
    Request,
    Response,
    Signal,
    TargetForm,
)
from .fields import Headers
from .headers import HOP_BY_HOP, get_header, get_list_header, remove_hop_by_hop
from .limits import CLIENT_LIMITS, SERVER_LIMITS, Limits
from .request_head import parse_request_head
from .response_head import parse_response_head
from .server import ServerConnection
from .targets import split_absolute, split_authority
from .writer import (
    REASONS,
    encode_chunk,
    error_response,
    last_chunk,
    write_request_head,
    write_response_head,
)

__all__ = [
    "CLIENT_LIMITS",
    "CONNECTION_CLOSED",
    "END_OF_MESSAGE",
    "HOP_BY_HOP",
    "NEED_DATA",
    "PAUSED",
    "REASONS",
    "SERVER_LIMITS",
    "ClientConnection",
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "Headers",
    "HttpError",
    "InformationalResponse",
    "Limits",
    "LocalProtocolError",
    "RemoteProtocolError",
    "Request",
    "Response",
    "ServerConnection",
    "Signal",
    "TargetForm",
    "encode_chunk",
    "error_response",
    "get_header",
    "get_list_header",
    "last_chunk",
    "parse_request_head",
    "parse_response_head",
    "remove_hop_by_hop",
    "split_absolute",
    "split_authority",
    "write_request_head",
    "write_response_head",
]
