"""Bearer-token authentication of admin API calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from ramparts.api.context import ControlPlane
from ramparts.api.errors import ApiError
from ramparts.store.repositories import tokens

MAX_TOKEN_CHARS = 256  # our tokens are ~47 chars; refuse to hash megabytes of header


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is making the call, as written in the audit log."""

    name: str


def control_plane(request: Request) -> ControlPlane:
    cp = request.app.state.control_plane
    assert isinstance(cp, ControlPlane)
    return cp


def require_admin(request: Request, cp: Annotated[ControlPlane, Depends(control_plane)]) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented or len(presented) > MAX_TOKEN_CHARS:
        raise ApiError(
            401,
            "unauthorized",
            "missing or malformed bearer token",
            headers={"WWW-Authenticate": 'Bearer realm="ramparts"'},
        )
    with cp.db.transaction() as session:
        token = tokens.authenticate(session, presented)
        if token is None:
            raise ApiError(
                401,
                "unauthorized",
                "invalid, expired or revoked token",
                headers={"WWW-Authenticate": 'Bearer realm="ramparts", error="invalid_token"'},
            )
        return Actor(f"token:{token.name}")


AdminActor = Annotated[Actor, Depends(require_admin)]
Plane = Annotated[ControlPlane, Depends(control_plane)]
