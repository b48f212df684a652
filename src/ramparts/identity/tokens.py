"""Session tokens: RS256 JWTs signed with the Access key ring, and their verification.

Every token names its use in a ``type`` claim, checked on verification next to ``aud`` and
``iss``, so a token made for one purpose (a team session, a one-minute hand-over to an
application, the state of a login) is never accepted for another. Verification takes ``now``
from the caller and fails closed: any doubt is a :class:`TokenError`.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import jwt

from ramparts.identity.errors import TokenError
from ramparts.identity.keys import ALGORITHM, MAX_SESSION_DURATION, KeyRing

CLOCK_LEEWAY = dt.timedelta(seconds=60)  # clocks of edges and origins may differ this much
MAX_TOKEN_CHARS = 8192  # far above our tokens (~1 KiB); refuse to parse more
MAX_GROUPS = 256  # group names carried in a token (cookies must stay under ~4 KiB)
MAX_CLAIM_CHARS = 320  # one email or name (RFC 5321 paths are 256; a bit of room)
VERIFIED_CACHE_SIZE = 4096  # verified tokens remembered per gate (about 1 KiB each)


class TokenType(enum.StrEnum):
    TEAM = "team"  # the team-domain session
    APP = "app"  # one application's session (cookie and Cf-Access-Jwt-Assertion)
    TRANSFER = "transfer"  # hands a login from the team domain to an application (one minute)
    STATE = "state"  # the state of a login in progress (OIDC round trip, PIN form)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who logged in, as the session tokens carry it."""

    sub: str
    email: str
    idp_id: str
    idp_type: str
    name: str = ""
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    type: TokenType
    audience: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    identity: Identity | None  # None: a service token's or a state token
    common_name: str = ""  # service tokens: the client id
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


def issue(
    ring: KeyRing,
    *,
    type: TokenType,
    issuer: str,
    audience: str,
    now: dt.datetime,
    lifetime: dt.timedelta,
    identity: Identity | None = None,
    common_name: str = "",
    extra: Mapping[str, Any] | None = None,
) -> str:
    """A signed token. ``extra`` claims must not collide with the registered ones."""
    if ring.signing is None:
        raise TokenError("no signing key: create an Access application or rotate keys first")
    if not timedelta_ok(lifetime):
        raise TokenError("token lifetime out of range")
    iat = int(now.timestamp())
    claims: dict[str, Any] = {
        "type": str(type),
        "iss": issuer,
        "aud": [audience],
        "iat": iat,
        "nbf": iat,
        "exp": iat + int(lifetime.total_seconds()),
    }
    if identity is not None:
        claims.update(
            sub=identity.sub,
            email=identity.email,
            name=identity.name,
            groups=list(identity.groups[:MAX_GROUPS]),
            idp={"id": identity.idp_id, "type": identity.idp_type},
        )
    else:
        claims.update(sub="", email="")
    if common_name:
        claims["common_name"] = common_name
    for key, value in (extra or {}).items():
        if key in claims:
            raise TokenError(f"extra claim {key!r} collides with a registered one")
        claims[key] = value
    return jwt.encode(
        claims,
        ring.signing.private_key,
        algorithm=ALGORITHM,
        headers={"kid": ring.signing.kid, "typ": "JWT"},
    )


def timedelta_ok(lifetime: dt.timedelta) -> bool:
    return dt.timedelta(0) < lifetime <= MAX_SESSION_DURATION


def verify(
    token: str,
    ring: KeyRing,
    *,
    type: TokenType,
    issuer: str,
    audience: str,
    now: dt.datetime,
) -> VerifiedToken:
    """Check signature (RS256 only, key by ``kid``), ``type``, ``iss``, ``aud``, times."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise TokenError("missing or oversized token")
    header = _header(token)
    if header.get("alg") != ALGORITHM:
        raise TokenError("token algorithm is not RS256")
    kid = header.get("kid")
    key = ring.public_keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise TokenError("token signed by an unknown key")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            # Times are checked below against the caller's clock, not the library's.
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "require": ["exp", "iat", "iss", "aud", "type"],
            },
        )
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid token: {exc}") from None
    if claims.get("type") != str(type):
        raise TokenError("token is not meant for this use")
    issued_at, expires_at = _times(claims, now)
    return VerifiedToken(
        type=type,
        audience=audience,
        issued_at=issued_at,
        expires_at=expires_at,
        identity=_identity(claims),
        common_name=_str(claims, "common_name"),
        extra=MappingProxyType(claims),
    )


def _header(token: str) -> dict[str, Any]:
    """The JOSE header, read cheaply (the library checks the whole token again afterwards)."""
    segment = token.split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise TokenError("malformed token header") from None
    if not isinstance(header, dict):
        raise TokenError("malformed token header")
    return header


class VerifiedTokens:
    """Tokens already verified against one key ring, so that a session cookie sent with every
    request is checked once: later requests cost a lookup and a look at the clock. Only
    successes are kept (garbage cannot evict them); a new ring (every snapshot) starts over."""

    def __init__(self, size: int = VERIFIED_CACHE_SIZE) -> None:
        self._size = size
        self._ring: KeyRing | None = None
        self._entries: dict[tuple[str, TokenType, str, str], VerifiedToken] = {}

    def verify(
        self,
        token: str,
        ring: KeyRing,
        *,
        type: TokenType,
        issuer: str,
        audience: str,
        now: dt.datetime,
    ) -> VerifiedToken:
        if ring is not self._ring:
            self._entries.clear()
            self._ring = ring
        key = (token, type, issuer, audience)
        hit = self._entries.get(key)
        if hit is not None:
            if hit.issued_at - CLOCK_LEEWAY <= now < hit.expires_at + CLOCK_LEEWAY:
                return hit
            del self._entries[key]
            raise TokenError("token expired")
        verified = verify(token, ring, type=type, issuer=issuer, audience=audience, now=now)
        if len(self._entries) >= self._size:
            self._entries.clear()
        self._entries[key] = verified
        return verified


def _times(claims: Mapping[str, Any], now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    values = [claims.get(k) for k in ("iat", "exp", "nbf")]
    if not all(v is None or (type(v) is int) for v in values):
        raise TokenError("token times are not integers")
    iat, exp, nbf = values
    if not isinstance(iat, int) or not isinstance(exp, int):
        raise TokenError("token has no iat or exp")
    leeway = CLOCK_LEEWAY.total_seconds()
    stamp = now.timestamp()
    if exp <= stamp - leeway:
        raise TokenError("token expired")
    if iat > stamp + leeway or (nbf is not None and nbf > stamp + leeway):
        raise TokenError("token not valid yet")
    if exp - iat > MAX_SESSION_DURATION.total_seconds():
        raise TokenError("token lifetime too long")
    return (
        dt.datetime.fromtimestamp(iat, dt.UTC),
        dt.datetime.fromtimestamp(exp, dt.UTC),
    )


def _identity(claims: Mapping[str, Any]) -> Identity | None:
    sub, email = _str(claims, "sub"), _str(claims, "email")
    if not sub or not email:
        return None
    idp = claims.get("idp")
    idp_id = _str(idp, "id") if isinstance(idp, Mapping) else ""
    idp_type = _str(idp, "type") if isinstance(idp, Mapping) else ""
    raw_groups = claims.get("groups")
    groups: tuple[str, ...] = ()
    if isinstance(raw_groups, list):
        groups = tuple(
            g for g in raw_groups[:MAX_GROUPS] if isinstance(g, str) and len(g) <= MAX_CLAIM_CHARS
        )
    return Identity(
        sub=sub,
        email=email,
        idp_id=idp_id,
        idp_type=idp_type,
        name=_str(claims, "name"),
        groups=groups,
    )


def _str(claims: Mapping[str, Any], key: str) -> str:
    value = claims.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_CLAIM_CHARS:
        raise TokenError(f"claim {key!r} is not a short string")
    return value
