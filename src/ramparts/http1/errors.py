"""The error hierarchy of the HTTP/1.1 package."""

from __future__ import annotations


class HttpError(Exception):
    """Base of every error raised by ``ramparts.http1``."""


class RemoteProtocolError(HttpError):
    """The peer sent bytes that are not valid HTTP/1.1 (or exceed a limit).

    ``status_code`` is the status to answer with: 400, 413, 414, 431, 501 or 505 when a
    server parses a request; 502 when a client (gateway) parses a response. After this error
    the connection object is unusable: answer (servers) and close.
    """

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class LocalProtocolError(HttpError):
    """The local application used the API in a way HTTP/1.1 does not allow
    (a response without a request, more body than Content-Length, CR/LF in a header...)."""
