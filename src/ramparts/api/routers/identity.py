"""/api/v1/identity: users (read, revoke sessions), groups, identity providers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ramparts.api.auth import AdminActor, Plane
from ramparts.api.errors import ApiError
from ramparts.api.pagination import (
    DEFAULT_PAGE_SIZE,
    CursorParam,
    Limit,
    created_cursor,
    decode_created_cursor,
    set_next,
)
from ramparts.config.access import idp_entry
from ramparts.identity.errors import IdentityError
from ramparts.store.models import NAME_MAX, IdentityGroup, IdentityProvider, IdentityUser
from ramparts.store.repositories import audit, identity_providers, identity_users, versions

router = APIRouter(prefix="/identity", tags=["identity"])

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
Ref = Annotated[str, Path(max_length=256, description="id, name or email")]
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
SECRET_MAX = 4096


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    last_idp_id: str
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    sessions_revoked_at: dt.datetime | None


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)
    description: str = Field("", max_length=1000)
    members: list[Email] = Field(default_factory=list, max_length=10_000)


class MembersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    members: list[Email] = Field(max_length=10_000)


class GroupOut(BaseModel):
    id: str
    name: str
    description: str
    members: list[str]
    created_at: dt.datetime


class IdpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)
    type: Literal["oidc", "otp"]
    config: dict[str, Any] = Field(default_factory=dict)
    secret: str = Field(
        "", max_length=SECRET_MAX, description="OIDC client secret or SMTP password"
    )


class IdpPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: dict[str, Any] | None = None
    secret: str | None = Field(None, max_length=SECRET_MAX)
    enabled: bool | None = None


class IdpOut(BaseModel):
    id: str
    name: str
    type: str
    config: dict[str, Any]
    has_secret: bool
    enabled: bool
    created_at: dt.datetime
    redirect_uri: str = Field(description="register this callback URL with the provider")


def _user_out(u: IdentityUser) -> UserOut:
    return UserOut(
        id=u.id,
        email=u.email,
        name=u.name,
        last_idp_id=u.last_idp_id,
        created_at=u.created_at,
        last_login_at=u.last_login_at,
        sessions_revoked_at=u.sessions_revoked_at,
    )


def _group_out(g: IdentityGroup, members: list[str]) -> GroupOut:
    return GroupOut(
        id=g.id, name=g.name, description=g.description, members=members, created_at=g.created_at
    )


def _idp_out(i: IdentityProvider, team_domain: str) -> IdpOut:
    return IdpOut(
        id=i.id,
        name=i.name,
        type=i.type,
        config=dict(i.config or {}),
        has_secret=bool(i.secret),
        enabled=i.enabled,
        created_at=i.created_at,
        redirect_uri=f"https://{team_domain}/cdn-cgi/access/callback",
    )


def _validate_idp(kind: str, config: dict[str, Any], secret: str) -> None:
    try:
        idp_entry("", "", kind, config, secret)
    except (IdentityError, ValueError) as exc:
        raise ApiError(
            422,
            "invalid_request",
            f"invalid request: config: {exc}",
            [{"field": "config", "reason": str(exc)}],
        ) from None


def _audit(session: Any, actor: str, action: str, kind: str, rid: str, **details: Any) -> None:
    audit.record(
        session, actor=actor, action=action, resource_type=kind, resource_id=rid, details=details
    )


# -- users ------------------------------------------------------------------------------------


@router.get("/users", response_model=list[UserOut])
def list_users(
    request: Request,
    response: Response,
    cp: Plane,
    _actor: AdminActor,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
) -> list[UserOut]:
    after = decode_created_cursor(cursor)
    with cp.db.session() as session:
        rows = identity_users.page_users(session, limit=limit + 1, after=after)
    page = rows[:limit]
    if len(rows) > limit:
        set_next(request, response, created_cursor(page[-1].created_at, page[-1].id))
    return [_user_out(u) for u in page]


@router.get("/users/{ref}", response_model=UserOut)
def get_user(ref: Ref, cp: Plane, _actor: AdminActor) -> UserOut:
    with cp.db.session() as session:
        return _user_out(identity_users.get_user(session, ref))


@router.post("/users/{ref}/revoke-sessions", response_model=UserOut)
def revoke_sessions(ref: Ref, cp: Plane, actor: AdminActor) -> UserOut:
    """Every session token issued to the user so far is refused from now on."""
    with cp.db.transaction() as session:
        user = identity_users.revoke_sessions(session, ref)
        _audit(session, actor.name, "identity.user.revoke", "user", user.id, email=user.email)
        versions.bump(session)
        return _user_out(user)


# -- groups -----------------------------------------------------------------------------------


@router.post("/groups", status_code=201, response_model=GroupOut)
def create_group(body: GroupIn, cp: Plane, actor: AdminActor) -> GroupOut:
    with cp.db.transaction() as session:
        group = identity_users.create_group(session, body.name, body.description, body.members)
        _audit(session, actor.name, "identity.group.create", "group", group.id, name=body.name)
        versions.bump(session)
        return _group_out(group, identity_users.members(session, group.id))


@router.get("/groups", response_model=list[GroupOut])
def list_groups(cp: Plane, _actor: AdminActor) -> list[GroupOut]:
    with cp.db.session() as session:
        return [
            _group_out(g, identity_users.members(session, g.id))
            for g in identity_users.list_groups(session)
        ]


@router.get("/groups/{ref}", response_model=GroupOut)
def get_group(ref: Ref, cp: Plane, _actor: AdminActor) -> GroupOut:
    with cp.db.session() as session:
        group = identity_users.get_group(session, ref)
        return _group_out(group, identity_users.members(session, group.id))


@router.put("/groups/{ref}/members", response_model=GroupOut)
def set_members(ref: Ref, body: MembersIn, cp: Plane, actor: AdminActor) -> GroupOut:
    with cp.db.transaction() as session:
        group = identity_users.get_group(session, ref)
        identity_users.set_members(session, group, body.members)
        _audit(
            session,
            actor.name,
            "identity.group.members",
            "group",
            group.id,
            count=len(body.members),
        )
        versions.bump(session)
        return _group_out(group, identity_users.members(session, group.id))


@router.delete("/groups/{ref}", status_code=204)
def delete_group(ref: Ref, cp: Plane, actor: AdminActor) -> Response:
    with cp.db.transaction() as session:
        group = identity_users.delete_group(session, ref)
        _audit(session, actor.name, "identity.group.delete", "group", group.id, name=group.name)
        versions.bump(session)
    return Response(status_code=204)


# -- identity providers -----------------------------------------------------------------------


@router.post("/idps", status_code=201, response_model=IdpOut)
def create_idp(body: IdpIn, cp: Plane, actor: AdminActor) -> IdpOut:
    _validate_idp(body.type, body.config, body.secret)
    with cp.db.transaction() as session:
        idp = identity_providers.create(
            session, name=body.name, type=body.type, config=body.config, secret=body.secret
        )
        _audit(session, actor.name, "identity.idp.create", "idp", idp.id, name=body.name)
        versions.bump(session)
        return _idp_out(idp, cp.team.domain)


@router.get("/idps", response_model=list[IdpOut])
def list_idps(cp: Plane, _actor: AdminActor) -> list[IdpOut]:
    with cp.db.session() as session:
        return [_idp_out(i, cp.team.domain) for i in identity_providers.list_all(session)]


@router.get("/idps/{ref}", response_model=IdpOut)
def get_idp(ref: Ref, cp: Plane, _actor: AdminActor) -> IdpOut:
    with cp.db.session() as session:
        return _idp_out(identity_providers.get(session, ref), cp.team.domain)


@router.patch("/idps/{ref}", response_model=IdpOut)
def update_idp(ref: Ref, body: IdpPatch, cp: Plane, actor: AdminActor) -> IdpOut:
    with cp.db.transaction() as session:
        current = identity_providers.get(session, ref)
        config = body.config if body.config is not None else dict(current.config or {})
        secret = body.secret if body.secret is not None else current.secret
        _validate_idp(current.type, config, secret)
        idp = identity_providers.update(
            session, ref, config=body.config, secret=body.secret, enabled=body.enabled
        )
        changed = sorted(body.model_dump(exclude_none=True))
        _audit(session, actor.name, "identity.idp.update", "idp", idp.id, fields=changed)
        versions.bump(session)
        return _idp_out(idp, cp.team.domain)


@router.delete("/idps/{ref}", status_code=204)
def delete_idp(ref: Ref, cp: Plane, actor: AdminActor) -> Response:
    with cp.db.transaction() as session:
        idp = identity_providers.delete(session, ref)
        _audit(session, actor.name, "identity.idp.delete", "idp", idp.id, name=idp.name)
        versions.bump(session)
    return Response(status_code=204)
