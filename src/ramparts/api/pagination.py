"""Keyset pagination: a list is a JSON array; the next page is in ``Link`` and ``X-Next-Cursor``."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Annotated, Any

from fastapi import Query, Request, Response

from ramparts.api.errors import ApiError

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
MAX_CURSOR_CHARS = 512

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")]
CursorParam = Annotated[
    str | None, Query(max_length=MAX_CURSOR_CHARS, description="opaque cursor from X-Next-Cursor")
]


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise ApiError(
            422,
            "invalid_request",
            "invalid cursor",
            [{"field": "cursor", "reason": "not a cursor"}],
        )
    return values


def set_next(request: Request, response: Response, cursor: str | None) -> None:
    if cursor is None:
        return
    url = request.url.include_query_params(cursor=cursor)
    response.headers["Link"] = f'<{url}>; rel="next"'
    response.headers["X-Next-Cursor"] = cursor


def decode_created_cursor(cursor: str | None) -> tuple[dt.datetime, str] | None:
    """The ``(created_at, id)`` position of a keyset cursor (lists ordered by creation)."""
    if not cursor:
        return None
    created, row_id = decode_cursor(cursor, 2)
    try:
        return dt.datetime.fromisoformat(str(created)), str(row_id)
    except ValueError:
        raise ApiError(
            422,
            "invalid_request",
            "invalid cursor",
            [{"field": "cursor", "reason": "not a cursor"}],
        ) from None


def created_cursor(created_at: dt.datetime, row_id: str) -> str:
    return encode_cursor([created_at.isoformat(), row_id])
