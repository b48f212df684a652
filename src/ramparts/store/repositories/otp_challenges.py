"""One-time PIN challenges (state written by edges; shared by every edge of the store)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ramparts.identity import otp
from ramparts.store.models import OtpChallenge


@dataclass(frozen=True, slots=True)
class Started:
    challenge_id: str
    code: str | None  # None: nothing must be sent (not allowed, locked, or rate-limited)


def start(session: Session, *, idp_id: str, email: str, allowed: bool, now: dt.datetime) -> Started:
    """A new challenge for ``email``; a code to send only when it may be delivered."""
    since = now - otp.LOCKOUT_WINDOW
    recent = session.execute(
        select(func.count(), func.coalesce(func.sum(OtpChallenge.attempts), 0)).where(
            OtpChallenge.email == email, OtpChallenge.created_at > since
        )
    ).one()
    codes, failures = int(recent[0]), int(recent[1])
    deliverable = (
        allowed and codes < otp.MAX_CODES_PER_WINDOW and failures < otp.MAX_FAILURES_PER_WINDOW
    )
    challenge_id = otp.new_challenge_id()
    code = otp.new_code()
    session.add(
        OtpChallenge(
            id=challenge_id,
            idp_id=idp_id,
            email=email,
            code_hash=otp.code_digest(challenge_id, code),
            deliverable=deliverable,
            attempts=0,
            created_at=now,
            expires_at=now + otp.CODE_TTL,
        )
    )
    session.execute(
        delete(OtpChallenge).where(OtpChallenge.created_at < now - otp.CHALLENGE_RETENTION)
    )
    return Started(challenge_id, code if deliverable else None)


def verify(
    session: Session, *, challenge_id: str, idp_id: str, code: str, now: dt.datetime
) -> tuple[otp.OtpOutcome, str]:
    """Decide one try and record it; returns the outcome and the challenge's address."""
    query = select(OtpChallenge).where(OtpChallenge.id == challenge_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None or row.idp_id != idp_id:
        return otp.OtpOutcome.UNKNOWN, ""
    failures = int(
        session.scalar(
            select(func.coalesce(func.sum(OtpChallenge.attempts), 0)).where(
                OtpChallenge.email == row.email,
                OtpChallenge.created_at > now - otp.LOCKOUT_WINDOW,
            )
        )
        or 0
    )
    challenge = otp.Challenge(
        row.id,
        row.email,
        row.code_hash,
        row.deliverable,
        row.attempts,
        row.expires_at,
        row.used_at,
    )
    outcome = otp.decide(challenge, code, now, failures)
    if outcome is otp.OtpOutcome.OK:
        row.used_at = now
    elif outcome is otp.OtpOutcome.WRONG:
        row.attempts += 1
    return outcome, row.email
