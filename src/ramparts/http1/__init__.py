"""Sans-IO HTTP/1.1 (RFC 9110/9112): strict, incremental parsing and fast serialising.

``ServerConnection`` parses requests and frames responses; ``ClientConnection`` frames
requests and parses responses. Both take bytes (``feed``) and hand out events
(``next_event``); neither touches sockets or clocks. Bad input raises
``RemoteProtocolError`` carrying the status to answer; nothing else escapes the parser.
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
