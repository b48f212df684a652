"""/api/v1/audit: the change log, newest first."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from ramparts.api.auth import AdminActor, Plane
from ramparts.api.pagination import (
    DEFAULT_PAGE_SIZE,
    CursorParam,
    Limit,
    decode_cursor,
    encode_cursor,
    set_next,
)
from ramparts.store.repositories import audit

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditEventOut(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    action: str
    resource_type: str
    resource_id: str
    details: dict[str, Any]


@router.get("", response_model=list[AuditEventOut])
def list_events(
    request: Request,
    response: Response,
    cp: Plane,
    _actor: AdminActor,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> list[AuditEventOut]:
    before = None
    if cursor:
        (before_id,) = decode_cursor(cursor, 1)
        before = int(before_id) if isinstance(before_id, int) else None
    with cp.db.session() as session:
        rows = audit.page(session, limit=limit + 1, before_id=before, action=action)
        page = [
            AuditEventOut(
                id=e.id,
                at=e.at,
                actor=e.actor,
                action=e.action,
                resource_type=e.resource_type,
                resource_id=e.resource_id,
                details=e.details,
            )
            for e in rows[:limit]
        ]
    if len(rows) > limit:
        set_next(request, response, encode_cursor([page[-1].id]))
    return page
