"""The DNS wire layer's one error hierarchy.

``QueryError`` subclasses say how the server answers the bad query (``rcode``; ``None`` means
drop it silently) and carry what a reply needs to echo; ``build.error_response`` turns one into
bytes. ``ResponseError`` subclasses say an upstream answer is unusable; ``UpstreamError``
subclasses that no answer came at all.
"""

from __future__ import annotations

from ramparts.dns.constants import RCODE_BADVERS, RCODE_FORMERR, RCODE_NOTIMP


class DnsError(Exception):
    """Base of every error raised by ``ramparts.dns``."""


class DnsWireError(DnsError):
    """Base of every error raised by ``ramparts.dns`` on bad input."""


class NameFormatError(DnsWireError):
    """A domain name (wire or presentation format) is not valid."""


class QueryError(DnsWireError):
    """A client query that cannot be served as asked.

    ``question`` is the raw question section (name in the client's case, type, class) when it
    was parsed, else ``b""``; ``edns``/``do`` say whether the reply should carry an OPT record.
    """

    rcode: int | None = None

    def __init__(
        self,
        reason: str,
        *,
        query_id: int = 0,
        flags: int = 0,
        question: bytes = b"",
        edns: bool = False,
        do: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.query_id = query_id
        self.flags = flags
        self.question = question
        self.edns = edns
        self.do = do


class Drop(QueryError):
    """No reply at all: too short to carry an ID, or a response sent to us (QR=1)."""

    rcode = None


class FormErr(QueryError):
    """Reply FORMERR (RFC 1035 §4.1.1): the query is malformed."""

    rcode = RCODE_FORMERR


class NotImp(QueryError):
    """Reply NOTIMP: an opcode we do not serve (only QUERY is)."""

    rcode = RCODE_NOTIMP


class BadVers(QueryError):
    """Reply BADVERS with an OPT of version 0 (RFC 6891 §6.1.3)."""

    rcode = RCODE_BADVERS


class ResponseError(DnsWireError):
    """An upstream response that must not be used."""


class MalformedResponse(ResponseError):
    """The upstream response does not parse."""


class MismatchedResponse(ResponseError):
    """The upstream response parses but does not answer our question (ID, name, type, class)."""


class UpstreamError(DnsError):
    """No usable answer came from an upstream resolver (the client gets SERVFAIL)."""


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer in time."""


class UpstreamUnavailable(UpstreamError):
    """The upstream could not be reached (connection refused, TLS failure, closed stream)."""
