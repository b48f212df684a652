"""/api/v1/policies: Gateway policies (create, list, get, update, delete) and ``test``, which
evaluates the policies in force against a described request."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.orm import Session

from ramparts.api.auth import AdminActor, Plane
from ramparts.api.errors import ApiError
from ramparts.api.pagination import (
    DEFAULT_PAGE_SIZE,
    CursorParam,
    Limit,
    decode_cursor,
    encode_cursor,
    set_next,
)
from ramparts.config.gateway import (
    DEFAULT_CACHE,
    build_gateway,
    list_stub,
    referenced_lists,
)
from ramparts.config.gateway_settings import (
    MAX_SETTING_KEY_CHARS,
    MAX_SETTING_VALUE_CHARS,
    MAX_SETTINGS,
    SettingError,
    check_settings,
)
from ramparts.policy import (
    Context,
    PolicyRule,
    PolicyRuleError,
    RequestError,
    build_request,
    compile_rule,
)
from ramparts.policy.lexer import MAX_EXPRESSION_CHARS
from ramparts.store.models import NAME_MAX, GatewayPolicy
from ramparts.store.models.policy import ACTION_MAX, DESCRIPTION_MAX
from ramparts.store.repositories import audit, policies, policy_lists, versions
from ramparts.store.repositories.policies import MAX_PRECEDENCE

router = APIRouter(prefix="/policies", tags=["policies"])

#: Policy names are labels people read ("Block gambling"): letters, digits, spaces, ._()-.
POLICY_NAME_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9 ._()-]*[A-Za-z0-9._()-])?$"
#: Fields of one described request in ``POST /policies/test``.
MAX_TEST_FIELDS = 64

PolicyRef = Annotated[
    str, Path(max_length=NAME_MAX, pattern=POLICY_NAME_PATTERN, description="policy id or name")
]
Phase = Literal["dns", "dns_resolver", "dns_post", "network", "http"]
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX, pattern=POLICY_NAME_PATTERN)]
Expression = Annotated[str, Field(max_length=MAX_EXPRESSION_CHARS)]
Precedence = Annotated[int, Field(ge=0, le=MAX_PRECEDENCE)]
SettingKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SETTING_KEY_CHARS)]
SettingValue = Annotated[str, StringConstraints(max_length=MAX_SETTING_VALUE_CHARS)]
Settings = Annotated[dict[SettingKey, SettingValue], Field(max_length=MAX_SETTINGS)]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX)]


class PolicyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    phase: Phase
    action: str = Field(min_length=1, max_length=ACTION_MAX)
    expression: Expression = Field(default="", description="traffic expression")
    identity: Expression = Field(default="", description="identity expression")
    precedence: Precedence | None = Field(
        default=None, description="order in the phase, lowest first (default: after the last)"
    )
    enabled: bool = True
    settings: Settings = Field(default_factory=dict, description="action settings")
    description: Description = ""


class PolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    phase: Phase | None = None
    action: str | None = Field(default=None, min_length=1, max_length=ACTION_MAX)
    expression: Expression | None = None
    identity: Expression | None = None
    precedence: Precedence | None = None
    enabled: bool | None = None
    settings: Settings | None = None
    description: Description | None = None


class PolicyOut(BaseModel):
    id: str
    name: str
    phase: str
    precedence: int
    enabled: bool
    action: str
    expression: str
    identity: str
    settings: dict[str, str]
    description: str
    lists: list[str] = Field(description="lists the expressions use")
    created_at: dt.datetime
    updated_at: dt.datetime


class PolicyBrief(BaseModel):
    id: str
    name: str
    precedence: int
    action: str


class PolicyTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phase: Phase
    request: dict[str, Any] = Field(
        max_length=MAX_TEST_FIELDS,
        description='field -> value, e.g. {"dns.fqdn": "a.example.com", "dns.query_rtype": "A"}',
    )


class Verdict(BaseModel):
    phase: str
    action: str = Field(description="the decision: the first matching policy's, or the default")
    matched: bool
    policy: PolicyBrief | None = Field(description="the policy that decided (None: default)")
    settings: dict[str, str]
    matching: list[PolicyBrief] = Field(description="every enabled policy that matches")
    rule_errors: list[str] = Field(description="policies skipped: they do not compile")


def _out(p: GatewayPolicy) -> PolicyOut:
    return PolicyOut(
        id=p.id,
        name=p.name,
        phase=p.phase,
        precedence=p.precedence,
        enabled=p.enabled,
        action=p.action,
        expression=p.expression,
        identity=p.identity,
        settings=dict(p.settings or {}),
        description=p.description,
        lists=sorted(referenced_lists(p.expression, p.identity)),
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def _invalid(field: str, reason: str) -> ApiError:
    return ApiError(
        422,
        "invalid_request",
        f"invalid request: {field}: {reason}",
        [{"field": field, "reason": reason}],
    )


_PARTS = {"expression": "expression", "identity expression": "identity"}


def validate(session: Session, values: dict[str, Any]) -> dict[str, str]:
    """Compile the policy against the current lists; its normalised settings, or a 422
    naming the field (``expression``, ``identity``, ``action``, ``settings.<key>``)."""
    phase = Context(values["phase"])
    env = {r.name: list_stub(r.name, r.kind) for r in policy_lists.all_lists(session)}
    rule = PolicyRule(
        id=values.get("id", "new"),
        name=values["name"],
        phase=phase,
        expression=values["expression"],
        action=values["action"],
        identity=values["identity"],
    )
    try:
        compile_rule(rule, env)
    except PolicyRuleError as exc:
        raise _invalid(_PARTS.get(exc.part, exc.part), str(exc.cause)) from None
    try:
        return check_settings(phase, values["action"], values["settings"])
    except SettingError as exc:
        raise _invalid(f"settings.{exc.key}" if exc.key else "settings", exc.reason) from None


def _audit(session: Session, actor: str, action: str, p: GatewayPolicy, **details: Any) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        resource_type="policy",
        resource_id=p.id,
        details={"name": p.name, "phase": p.phase, **details},
    )


@router.post("", status_code=201, response_model=PolicyOut)
def create_policy(body: PolicyCreate, cp: Plane, actor: AdminActor) -> PolicyOut:
    values = body.model_dump()
    with cp.db.transaction() as session:
        values["settings"] = validate(session, values)
        policy = policies.create(session, **values)
        _audit(session, actor.name, "policy.create", policy, policy_action=policy.action)
        versions.bump(session)
        return _out(policy)


@router.get("", response_model=list[PolicyOut])
def list_policies(
    request: Request,
    response: Response,
    cp: Plane,
    _actor: AdminActor,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
    phase: Annotated[Phase | None, Query(description="only this phase")] = None,
) -> list[PolicyOut]:
    after = None
    if cursor:
        last_phase, last_precedence = decode_cursor(cursor, 2)
        if not isinstance(last_phase, str) or not isinstance(last_precedence, int):
            raise _invalid("cursor", "not a cursor")
        after = (last_phase, last_precedence)
    with cp.db.session() as session:
        rows = policies.page(session, limit=limit + 1, after=after, phase=phase)
        page = rows[:limit]
        if len(rows) > limit:
            set_next(request, response, encode_cursor([page[-1].phase, page[-1].precedence]))
        return [_out(p) for p in page]


@router.post("/test", response_model=Verdict)
def evaluate_policies(body: PolicyTest, cp: Plane, _actor: AdminActor) -> Verdict:
    """Evaluate the policies in force for a described request (no traffic is sent)."""
    phase = Context(body.phase)
    try:
        request = build_request(body.request)
    except RequestError as exc:
        raise _invalid("request", str(exc)) from None
    with cp.db.session() as session:
        gateway = build_gateway(session, DEFAULT_CACHE)
    decision = gateway.policies.evaluate(phase, request)
    matching = gateway.policies[phase].matching(request)
    rule = decision.rule
    return Verdict(
        phase=phase.value,
        action=decision.action,
        matched=rule is not None,
        policy=PolicyBrief(
            id=rule.id, name=rule.name, precedence=rule.precedence, action=rule.action
        )
        if rule is not None
        else None,
        settings=dict(decision.settings),
        matching=[
            PolicyBrief(id=r.id, name=r.name, precedence=r.precedence, action=r.action)
            for r in matching
        ],
        rule_errors=list(gateway.rule_errors),
    )


@router.get("/{ref}", response_model=PolicyOut)
def get_policy(ref: PolicyRef, cp: Plane, _actor: AdminActor) -> PolicyOut:
    with cp.db.session() as session:
        return _out(policies.get(session, ref))


@router.patch("/{ref}", response_model=PolicyOut)
def update_policy(ref: PolicyRef, body: PolicyUpdate, cp: Plane, actor: AdminActor) -> PolicyOut:
    changes = body.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None:
            raise _invalid(key, "cannot be null")
    with cp.db.transaction() as session:
        policy = policies.get(session, ref)
        merged: dict[str, Any] = {
            "id": policy.id,
            "name": policy.name,
            "phase": policy.phase,
            "action": policy.action,
            "expression": policy.expression,
            "identity": policy.identity,
            "settings": dict(policy.settings or {}),
        }
        merged.update({k: v for k, v in changes.items() if k in merged})
        if "action" in changes and "settings" not in changes:
            merged["settings"] = {}  # another action's settings do not carry over
            changes["settings"] = {}
        settings = validate(session, merged)
        if "settings" in changes:
            changes["settings"] = settings
        policy = policies.update(session, policy.id, changes)
        _audit(session, actor.name, "policy.update", policy, fields=sorted(changes))
        versions.bump(session)
        return _out(policy)


@router.delete("/{ref}", status_code=204)
def delete_policy(ref: PolicyRef, cp: Plane, actor: AdminActor) -> Response:
    with cp.db.transaction() as session:
        policy = policies.delete_policy(session, ref)
        _audit(session, actor.name, "policy.delete", policy)
        versions.bump(session)
    return Response(status_code=204)
