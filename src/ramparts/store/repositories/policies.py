"""Gateway policies: rows ordered per phase by a unique precedence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ramparts.store.errors import Conflict, NotFound
from ramparts.store.models import GatewayPolicy, utcnow

#: Gap left between automatically assigned precedences, so a policy fits in between later.
PRECEDENCE_STEP = 1000
#: Policies kept in all; bounds one snapshot's compile time (1,000 compile in well under 1 s).
MAX_POLICIES = 10_000
#: Highest precedence accepted (a signed 32-bit column on every backend).
MAX_PRECEDENCE = 2**31 - 1

_FIELDS = (
    "name",
    "phase",
    "enabled",
    "precedence",
    "expression",
    "identity",
    "action",
    "settings",
    "description",
)


def next_precedence(session: Session, phase: str) -> int:
    """After the last policy of the phase, on the next multiple of PRECEDENCE_STEP."""
    last = session.scalar(
        select(func.max(GatewayPolicy.precedence)).where(GatewayPolicy.phase == phase)
    )
    if last is None:
        return PRECEDENCE_STEP
    return min(MAX_PRECEDENCE, (int(last) // PRECEDENCE_STEP + 1) * PRECEDENCE_STEP)


def create(
    session: Session,
    *,
    name: str,
    phase: str,
    action: str,
    expression: str = "",
    identity: str = "",
    settings: dict[str, str] | None = None,
    description: str = "",
    enabled: bool = True,
    precedence: int | None = None,
) -> GatewayPolicy:
    count = session.scalar(select(func.count()).select_from(GatewayPolicy)) or 0
    if count >= MAX_POLICIES:
        raise Conflict("policy", "count", str(MAX_POLICIES))
    _check_name_free(session, name, None)
    if precedence is None:
        precedence = next_precedence(session, phase)
    else:
        _check_precedence_free(session, phase, precedence, None)
    policy = GatewayPolicy(
        name=name,
        phase=phase,
        action=action,
        expression=expression,
        identity=identity,
        settings=dict(settings or {}),
        description=description,
        enabled=enabled,
        precedence=precedence,
    )
    session.add(policy)
    _flush(session, policy)
    return policy


def get(session: Session, ref: str) -> GatewayPolicy:
    """By id or by name."""
    policy = session.scalar(
        select(GatewayPolicy).where((GatewayPolicy.id == ref) | (GatewayPolicy.name == ref))
    )
    if policy is None:
        raise NotFound("policy", ref)
    return policy


def page(
    session: Session,
    *,
    limit: int,
    after: tuple[str, int] | None = None,
    phase: str | None = None,
) -> Sequence[GatewayPolicy]:
    """Ordered by (phase, precedence), keyset-paginated on that pair (unique)."""
    query = (
        select(GatewayPolicy).order_by(GatewayPolicy.phase, GatewayPolicy.precedence).limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(GatewayPolicy.phase, GatewayPolicy.precedence) > tuple_(*after))
    if phase:
        query = query.where(GatewayPolicy.phase == phase)
    return session.scalars(query).all()


def all_policies(session: Session) -> Sequence[GatewayPolicy]:
    return session.scalars(
        select(GatewayPolicy).order_by(GatewayPolicy.phase, GatewayPolicy.precedence)
    ).all()


def update(session: Session, ref: str, changes: dict[str, Any]) -> GatewayPolicy:
    """Apply ``changes`` (column name -> value). A phase change without a precedence moves
    the policy after the last one of its new phase."""
    policy = get(session, ref)
    unknown = set(changes) - set(_FIELDS)
    if unknown:
        raise ValueError(f"not policy fields: {sorted(unknown)}")
    if "name" in changes and changes["name"] != policy.name:
        _check_name_free(session, changes["name"], policy.id)
    phase = changes.get("phase", policy.phase)
    if "precedence" not in changes and phase != policy.phase:
        changes = {**changes, "precedence": next_precedence(session, phase)}
    precedence = changes.get("precedence", policy.precedence)
    if (phase, precedence) != (policy.phase, policy.precedence):
        _check_precedence_free(session, phase, precedence, policy.id)
    for key, value in changes.items():
        setattr(policy, key, dict(value) if key == "settings" else value)
    policy.updated_at = utcnow()
    _flush(session, policy)
    return policy


def delete_policy(session: Session, ref: str) -> GatewayPolicy:
    policy = get(session, ref)
    session.delete(policy)
    session.flush()
    return policy


def mentioning(session: Session, text: str) -> Sequence[GatewayPolicy]:
    """Policies whose expression or identity expression contains ``text`` (a prefilter;
    callers confirm with the expression's tokens)."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return session.scalars(
        select(GatewayPolicy)
        .where(
            GatewayPolicy.expression.like(pattern, escape="\\")
            | GatewayPolicy.identity.like(pattern, escape="\\")
        )
        .order_by(GatewayPolicy.phase, GatewayPolicy.precedence)
    ).all()


def _check_name_free(session: Session, name: str, own_id: str | None) -> None:
    found = session.scalar(select(GatewayPolicy.id).where(GatewayPolicy.name == name))
    if found is not None and found != own_id:
        raise Conflict("policy", "name", name)


def _check_precedence_free(
    session: Session, phase: str, precedence: int, own_id: str | None
) -> None:
    found = session.scalar(
        select(GatewayPolicy.name).where(
            GatewayPolicy.phase == phase,
            GatewayPolicy.precedence == precedence,
            GatewayPolicy.id != (own_id or ""),
        )
    )
    if found is not None:
        raise Conflict(f"{phase} policy ({found!r})", "precedence", str(precedence))


def _flush(session: Session, policy: GatewayPolicy) -> None:
    try:
        session.flush()
    except IntegrityError:
        # A concurrent writer took the name or the precedence between our check and insert.
        raise Conflict("policy", "name or precedence", policy.name) from None
