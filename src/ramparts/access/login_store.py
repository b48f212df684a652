"""What the team pages write: users at login and one-time PIN challenges. State shared by
every edge of the store, not configuration; database calls run in a thread."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Protocol

from ramparts.identity.otp import OtpOutcome
from ramparts.store import Database
from ramparts.store.repositories import identity_users, otp_challenges
from ramparts.store.repositories.otp_challenges import Started


class LoginStore(Protocol):
    async def record_login(self, *, email: str, name: str, idp_id: str, now: dt.datetime) -> str:
        """The user's id (created on first login)."""
        ...

    async def otp_start(
        self, *, idp_id: str, email: str, allowed: bool, now: dt.datetime
    ) -> Started: ...

    async def otp_verify(
        self, *, challenge_id: str, idp_id: str, code: str, now: dt.datetime
    ) -> tuple[OtpOutcome, str]: ...


class DatabaseLoginStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record_login(self, *, email: str, name: str, idp_id: str, now: dt.datetime) -> str:
        def run() -> str:
            with self._db.transaction() as session:
                user = identity_users.record_login(
                    session, email=email, name=name, idp_id=idp_id, now=now
                )
                return user.id

        return await asyncio.to_thread(run)

    async def otp_start(
        self, *, idp_id: str, email: str, allowed: bool, now: dt.datetime
    ) -> Started:
        def run() -> Started:
            with self._db.transaction() as session:
                return otp_challenges.start(
                    session, idp_id=idp_id, email=email, allowed=allowed, now=now
                )

        return await asyncio.to_thread(run)

    async def otp_verify(
        self, *, challenge_id: str, idp_id: str, code: str, now: dt.datetime
    ) -> tuple[OtpOutcome, str]:
        def run() -> tuple[OtpOutcome, str]:
            with self._db.transaction() as session:
                return otp_challenges.verify(
                    session, challenge_id=challenge_id, idp_id=idp_id, code=code, now=now
                )

        return await asyncio.to_thread(run)
