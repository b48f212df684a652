"""/api/v1/tokens: admin API tokens (shown once, stored as digests)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from ramparts.api.auth import AdminActor, Plane
from ramparts.store.models import NAME_MAX, ApiToken, utcnow
from ramparts.store.repositories import audit, tokens

router = APIRouter(prefix="/tokens", tags=["tokens"])

MAX_TOKEN_LIFETIME_DAYS = 3650


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")
    expires_in_days: int | None = Field(default=None, ge=1, le=MAX_TOKEN_LIFETIME_DAYS)


class TokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenWithSecret(TokenOut):
    token: str = Field(description="the bearer token; shown once")


def _out(token: ApiToken) -> TokenOut:
    return TokenOut(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
    )


@router.post("", status_code=201, response_model=TokenWithSecret)
def create_token(body: TokenCreate, cp: Plane, actor: AdminActor) -> TokenWithSecret:
    expires = utcnow() + dt.timedelta(days=body.expires_in_days) if body.expires_in_days else None
    with cp.db.transaction() as session:
        issued = tokens.create(session, body.name, expires)
        audit.record(
            session,
            actor=actor.name,
            action="token.create",
            resource_type="api_token",
            resource_id=issued.token.id,
            details={"name": body.name},
        )
        return TokenWithSecret(**_out(issued.token).model_dump(), token=issued.secret)


@router.get("", response_model=list[TokenOut])
def list_tokens(cp: Plane, _actor: AdminActor) -> list[TokenOut]:
    with cp.db.session() as session:
        return [_out(t) for t in tokens.list_all(session)]


@router.delete("/{token_id}", status_code=204)
def revoke_token(
    token_id: Annotated[str, Path(max_length=36, pattern=r"^[0-9a-f-]+$")],
    cp: Plane,
    actor: AdminActor,
) -> Response:
    with cp.db.transaction() as session:
        token = tokens.revoke(session, token_id)
        audit.record(
            session,
            actor=actor.name,
            action="token.revoke",
            resource_type="api_token",
            resource_id=token.id,
            details={"name": token.name},
        )
    return Response(status_code=204)
