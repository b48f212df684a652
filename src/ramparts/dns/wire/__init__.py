"""The DNS wire format on bytes: query fast path, response parsing, builders and patching.

No sockets and no clocks: listeners and upstream clients call these functions.
"""

from ramparts.dns.wire.build import (
    BlockAnswer,
    block_response,
    build_reply,
    error_response,
    fit_udp,
    override_response,
    pad_response,
    rcode_response,
    record,
    udp_limit,
    upstream_query,
)
from ramparts.dns.wire.names import name_from_text, name_to_text, read_name
from ramparts.dns.wire.patch import PatchableAnswer, prepare_answer, serve_answer
from ramparts.dns.wire.query import Query, parse_query
from ramparts.dns.wire.records import uncompressed_records
from ramparts.dns.wire.response import AnswerKind, ParsedResponse, RecordInfo, parse_response

__all__ = [
    "AnswerKind",
    "BlockAnswer",
    "ParsedResponse",
    "PatchableAnswer",
    "Query",
    "RecordInfo",
    "block_response",
    "build_reply",
    "error_response",
    "fit_udp",
    "name_from_text",
    "name_to_text",
    "override_response",
    "pad_response",
    "parse_query",
    "parse_response",
    "prepare_answer",
    "rcode_response",
    "read_name",
    "record",
    "serve_answer",
    "udp_limit",
    "uncompressed_records",
    "upstream_query",
]
