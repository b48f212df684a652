"""/api/v1/access: applications, their policies, service tokens, signing keys."""

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
from ramparts.config.access import normalise_prefix
from ramparts.config.access_rules import Action, RuleError, parse_rules, validate_policy
from ramparts.identity.keys import MAX_SESSION_DURATION
from ramparts.store import NotFound
from ramparts.store.models import NAME_MAX, AccessApplication, AccessPolicy, ServiceToken
from ramparts.store.repositories import (
    access_apps,
    audit,
    identity_providers,
    signing_keys,
    versions,
)
from ramparts.store.repositories import service_tokens as token_repo

router = APIRouter(prefix="/access", tags=["access"])

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
HOSTNAME_PATTERN = (
    r"^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)
PATH_PATTERN = r"^(/[\x21-\x7e]*)?$"  # printable ASCII, no spaces: a URL path prefix
MAX_SESSION_SECONDS = int(MAX_SESSION_DURATION.total_seconds())
MAX_TOKEN_DAYS = 3650
Ref = Annotated[str, Path(max_length=128, description="id or name")]
Rules = Annotated[list[Annotated[str, Field(max_length=320)]], Field(max_length=1000)]


class AppIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)
    domain: str = Field(min_length=1, max_length=253, pattern=HOSTNAME_PATTERN)
    path: str = Field("", max_length=1024, pattern=PATH_PATTERN)
    session_seconds: int = Field(86400, ge=60, le=MAX_SESSION_SECONDS)
    allowed_idps: list[str] = Field(default_factory=list, max_length=50)
    same_site: Literal["lax", "strict", "none"] = "lax"
    launcher_visible: bool = True


class AppPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    domain: str | None = Field(None, min_length=1, max_length=253, pattern=HOSTNAME_PATTERN)
    path: str | None = Field(None, max_length=1024, pattern=PATH_PATTERN)
    session_seconds: int | None = Field(None, ge=60, le=MAX_SESSION_SECONDS)
    allowed_idps: list[str] | None = Field(None, max_length=50)
    same_site: Literal["lax", "strict", "none"] | None = None
    launcher_visible: bool | None = None


class AppOut(BaseModel):
    id: str
    name: str
    domain: str
    path: str
    aud: str
    session_seconds: int
    allowed_idps: list[str]
    same_site: str
    launcher_visible: bool
    created_at: dt.datetime


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)
    action: Action
    include: Rules
    require: Rules = Field(default_factory=list)
    exclude: Rules = Field(default_factory=list)
    precedence: int | None = Field(None, ge=1, le=access_apps.MAX_PRECEDENCE)


class PolicyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Action | None = None
    include: Rules | None = None
    require: Rules | None = None
    exclude: Rules | None = None
    precedence: int | None = Field(None, ge=1, le=access_apps.MAX_PRECEDENCE)


class PolicyOut(BaseModel):
    id: str
    app_id: str
    name: str
    action: str
    precedence: int
    include: list[str]
    require: list[str]
    exclude: list[str]
    created_at: dt.datetime


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)
    duration_days: int | None = Field(None, ge=1, le=MAX_TOKEN_DAYS, description="none: no expiry")


class TokenOut(BaseModel):
    id: str
    name: str
    client_id: str
    created_at: dt.datetime
    expires_at: dt.datetime | None


class TokenWithSecret(TokenOut):
    client_secret: str = Field(description="shown once; only its digest is stored")


class KeyOut(BaseModel):
    kid: str
    created_at: dt.datetime
    retired_at: dt.datetime | None
    signing: bool


def _app_out(app: AccessApplication) -> AppOut:
    return AppOut(
        id=app.id,
        name=app.name,
        domain=app.domain,
        path=app.path,
        aud=app.aud,
        session_seconds=app.session_seconds,
        allowed_idps=list(app.allowed_idps or []),
        same_site=app.same_site,
        launcher_visible=app.launcher_visible,
        created_at=app.created_at,
    )


def _policy_out(p: AccessPolicy) -> PolicyOut:
    return PolicyOut(
        id=p.id,
        app_id=p.app_id,
        name=p.name,
        action=p.action,
        precedence=p.precedence,
        include=list(p.include),
        require=list(p.require),
        exclude=list(p.exclude),
        created_at=p.created_at,
    )


def _token_out(t: ServiceToken) -> TokenOut:
    return TokenOut(
        id=t.id,
        name=t.name,
        client_id=t.client_id,
        created_at=t.created_at,
        expires_at=t.expires_at,
    )


def _invalid(field: str, reason: str) -> ApiError:
    return ApiError(
        422,
        "invalid_request",
        f"invalid request: {field}: {reason}",
        [{"field": field, "reason": reason}],
    )


def _app_fields(session: Any, data: dict[str, Any], team_domain: str) -> dict[str, Any]:
    if "domain" in data and data["domain"] is not None:
        data["domain"] = data["domain"].lower()
        if data["domain"] == team_domain:
            raise _invalid("domain", "the team domain serves the login pages, not an application")
    if "path" in data and data["path"] is not None:
        data["path"] = normalise_prefix(data["path"])
    if data.get("allowed_idps") is not None:
        ids = []
        for i, ref in enumerate(data["allowed_idps"]):
            try:
                ids.append(identity_providers.get(session, ref).id)
            except NotFound:
                raise _invalid(f"allowed_idps.{i}", f"no identity provider {ref!r}") from None
        data["allowed_idps"] = list(dict.fromkeys(ids))
    return data


def _audit(session: Any, actor: str, action: str, kind: str, rid: str, **details: Any) -> None:
    audit.record(
        session, actor=actor, action=action, resource_type=kind, resource_id=rid, details=details
    )


# -- applications ------------------------------------------------------------------------


@router.post("/apps", status_code=201, response_model=AppOut)
def create_app(body: AppIn, cp: Plane, actor: AdminActor) -> AppOut:
    with cp.db.transaction() as session:
        fields = _app_fields(session, body.model_dump(), cp.team.domain)
        signing_keys.ensure_current(session)
        app = access_apps.create_app(session, **fields)
        _audit(session, actor.name, "access.app.create", "access_app", app.id, name=app.name)
        versions.bump(session)
        return _app_out(app)


@router.get("/apps", response_model=list[AppOut])
def list_apps(
    request: Request,
    response: Response,
    cp: Plane,
    _actor: AdminActor,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
) -> list[AppOut]:
    after = decode_created_cursor(cursor)
    with cp.db.session() as session:
        rows = access_apps.page_apps(session, limit=limit + 1, after=after)
    page = rows[:limit]
    if len(rows) > limit:
        set_next(request, response, created_cursor(page[-1].created_at, page[-1].id))
    return [_app_out(a) for a in page]


@router.get("/apps/{ref}", response_model=AppOut)
def get_app(ref: Ref, cp: Plane, _actor: AdminActor) -> AppOut:
    with cp.db.session() as session:
        return _app_out(access_apps.get_app(session, ref))


@router.patch("/apps/{ref}", response_model=AppOut)
def update_app(ref: Ref, body: AppPatch, cp: Plane, actor: AdminActor) -> AppOut:
    with cp.db.transaction() as session:
        fields = _app_fields(session, body.model_dump(exclude_none=True), cp.team.domain)
        app = access_apps.update_app(session, ref, **fields)
        _audit(
            session, actor.name, "access.app.update", "access_app", app.id, fields=sorted(fields)
        )
        versions.bump(session)
        return _app_out(app)


@router.delete("/apps/{ref}", status_code=204)
def delete_app(ref: Ref, cp: Plane, actor: AdminActor) -> Response:
    with cp.db.transaction() as session:
        app = access_apps.delete_app(session, ref)
        _audit(session, actor.name, "access.app.delete", "access_app", app.id, name=app.name)
        versions.bump(session)
    return Response(status_code=204)


# -- policies ------------------------------------------------------------------------------


def _checked_rules(
    action: Action, include: list[str], require: list[str], exclude: list[str]
) -> None:
    try:
        lists = [
            parse_rules(r, f)
            for r, f in ((include, "include"), (require, "require"), (exclude, "exclude"))
        ]
        validate_policy(action, *lists)
    except RuleError as exc:
        raise _invalid(exc.field or "include", str(exc)) from None


@router.post("/apps/{ref}/policies", status_code=201, response_model=PolicyOut)
def create_policy(ref: Ref, body: PolicyIn, cp: Plane, actor: AdminActor) -> PolicyOut:
    _checked_rules(body.action, body.include, body.require, body.exclude)
    with cp.db.transaction() as session:
        app = access_apps.get_app(session, ref)
        policy = access_apps.create_policy(
            session,
            app,
            name=body.name,
            action=str(body.action),
            include=body.include,
            require=body.require,
            exclude=body.exclude,
            precedence=body.precedence,
        )
        _audit(
            session,
            actor.name,
            "access.policy.create",
            "access_policy",
            policy.id,
            app=app.name,
            name=body.name,
        )
        versions.bump(session)
        return _policy_out(policy)


@router.get("/apps/{ref}/policies", response_model=list[PolicyOut])
def list_policies(ref: Ref, cp: Plane, _actor: AdminActor) -> list[PolicyOut]:
    with cp.db.session() as session:
        app = access_apps.get_app(session, ref)
        return [_policy_out(p) for p in access_apps.policies(session, app.id)]


@router.get("/apps/{ref}/policies/{policy}", response_model=PolicyOut)
def get_policy(ref: Ref, policy: Ref, cp: Plane, _actor: AdminActor) -> PolicyOut:
    with cp.db.session() as session:
        return _policy_out(
            access_apps.get_policy(session, access_apps.get_app(session, ref), policy)
        )


@router.patch("/apps/{ref}/policies/{policy}", response_model=PolicyOut)
def update_policy(
    ref: Ref, policy: Ref, body: PolicyPatch, cp: Plane, actor: AdminActor
) -> PolicyOut:
    with cp.db.transaction() as session:
        app = access_apps.get_app(session, ref)
        row = access_apps.get_policy(session, app, policy)
        fields = body.model_dump(exclude_none=True)
        if "action" in fields:
            fields["action"] = str(fields["action"])
        merged = {
            k: fields.get(k, getattr(row, k)) for k in ("action", "include", "require", "exclude")
        }
        _checked_rules(
            Action(merged["action"]), merged["include"], merged["require"], merged["exclude"]
        )
        updated = access_apps.update_policy(session, app, policy, **fields)
        _audit(
            session,
            actor.name,
            "access.policy.update",
            "access_policy",
            updated.id,
            fields=sorted(fields),
        )
        versions.bump(session)
        return _policy_out(updated)


@router.delete("/apps/{ref}/policies/{policy}", status_code=204)
def delete_policy(ref: Ref, policy: Ref, cp: Plane, actor: AdminActor) -> Response:
    with cp.db.transaction() as session:
        app = access_apps.get_app(session, ref)
        row = access_apps.delete_policy(session, app, policy)
        _audit(session, actor.name, "access.policy.delete", "access_policy", row.id, name=row.name)
        versions.bump(session)
    return Response(status_code=204)


# -- service tokens ------------------------------------------------------------------------


@router.post("/service-tokens", status_code=201, response_model=TokenWithSecret)
def create_token(body: TokenIn, cp: Plane, actor: AdminActor) -> TokenWithSecret:
    expires = None
    if body.duration_days is not None:
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=body.duration_days)
    with cp.db.transaction() as session:
        issued = token_repo.create(session, body.name, expires)
        _audit(
            session,
            actor.name,
            "access.service_token.create",
            "service_token",
            issued.token.id,
            name=body.name,
        )
        versions.bump(session)
        return TokenWithSecret(
            **_token_out(issued.token).model_dump(), client_secret=issued.client_secret
        )


@router.get("/service-tokens", response_model=list[TokenOut])
def list_tokens(cp: Plane, _actor: AdminActor) -> list[TokenOut]:
    with cp.db.session() as session:
        return [_token_out(t) for t in token_repo.list_all(session)]


@router.get("/service-tokens/{ref}", response_model=TokenOut)
def get_token(ref: Ref, cp: Plane, _actor: AdminActor) -> TokenOut:
    with cp.db.session() as session:
        return _token_out(token_repo.get(session, ref))


@router.post("/service-tokens/{ref}/rotate", status_code=201, response_model=TokenWithSecret)
def rotate_token(ref: Ref, cp: Plane, actor: AdminActor) -> TokenWithSecret:
    with cp.db.transaction() as session:
        issued = token_repo.rotate(session, ref)
        _audit(session, actor.name, "access.service_token.rotate", "service_token", issued.token.id)
        versions.bump(session)
        return TokenWithSecret(
            **_token_out(issued.token).model_dump(), client_secret=issued.client_secret
        )


@router.delete("/service-tokens/{ref}", status_code=204)
def delete_token(ref: Ref, cp: Plane, actor: AdminActor) -> Response:
    with cp.db.transaction() as session:
        token = token_repo.delete(session, ref)
        _audit(
            session,
            actor.name,
            "access.service_token.delete",
            "service_token",
            token.id,
            name=token.name,
        )
        versions.bump(session)
    return Response(status_code=204)


# -- signing keys ------------------------------------------------------------------------------


@router.get("/keys", response_model=list[KeyOut])
def list_keys(cp: Plane, _actor: AdminActor) -> list[KeyOut]:
    with cp.db.session() as session:
        return [
            KeyOut(
                kid=k.kid,
                created_at=k.created_at,
                retired_at=k.retired_at,
                signing=k.retired_at is None,
            )
            for k in signing_keys.listing(session)
        ]


@router.post("/keys/rotate", status_code=201, response_model=KeyOut)
def rotate_keys(cp: Plane, actor: AdminActor) -> KeyOut:
    """A new signing key; the previous ones stay published for the overlap period."""
    with cp.db.transaction() as session:
        key = signing_keys.rotate(session)
        _audit(session, actor.name, "access.keys.rotate", "access_key", key.kid)
        versions.bump(session)
        return KeyOut(kid=key.kid, created_at=key.created_at, retired_at=None, signing=True)
