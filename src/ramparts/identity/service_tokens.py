"""Service tokens as edges see them, and their authentication from request headers."""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from ramparts import secrets

CLIENT_ID_HEADER = "cf-access-client-id"
CLIENT_SECRET_HEADER = "cf-access-client-secret"  # noqa: S105 - a header name
MAX_CREDENTIAL_CHARS = 256  # ours are under 100; refuse to hash megabytes of header


@dataclass(frozen=True, slots=True)
class ServiceTokenEntry:
    id: str
    name: str
    client_id: str
    secret_digest: str = field(repr=False)
    expires_at: dt.datetime | None = None


def authenticate(
    tokens: Mapping[str, ServiceTokenEntry], client_id: str, client_secret: str, now: dt.datetime
) -> ServiceTokenEntry | None:
    """The live token these credentials belong to, or None (unknown, wrong secret, expired)."""
    if not client_id or not client_secret:
        return None
    if len(client_id) > MAX_CREDENTIAL_CHARS or len(client_secret) > MAX_CREDENTIAL_CHARS:
        return None
    entry = tokens.get(client_id)
    digest = secrets.digest(client_secret)
    if entry is None:
        hmac.compare_digest(digest, digest)  # same work whether or not the id exists
        return None
    if not hmac.compare_digest(digest, entry.secret_digest):
        return None
    if entry.expires_at is not None and entry.expires_at <= now:
        return None
    return entry
