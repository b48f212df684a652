"""One-time PIN by email: codes, their digests, and the rules that decide a verification.

A code is 6 digits, valid 10 minutes, and allows 5 wrong tries; an address that collects 10
wrong tries in 15 minutes is locked out (nothing is sent to it or accepted from it) until
the window passes. Whether an address may log in at all is never revealed: a challenge is
created either way, and one for an address that is not allowed can never succeed.
Pure: the caller reads and writes the challenge rows and passes ``now``.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

CODE_DIGITS = 6
CODE_TTL = dt.timedelta(minutes=10)
MAX_ATTEMPTS_PER_CODE = 5  # wrong codes before a challenge is dead
LOCKOUT_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_WINDOW = 10  # wrong codes per address per window before a lock-out
MAX_CODES_PER_WINDOW = 5  # codes mailed per address per window (no mail flooding)
CHALLENGE_ID_BYTES = 24  # 192 bits: the challenge id is also the digest's salt
CHALLENGE_RETENTION = dt.timedelta(days=1)  # rows older than this are pruned


class OtpOutcome(enum.StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"  # too old, or already used
    EXHAUSTED = "exhausted"  # too many wrong tries for this code
    LOCKED = "locked"  # too many wrong tries for this address
    UNKNOWN = "unknown"  # no such challenge


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    security: str = "starttls"  # starttls, tls or none (none: loopback relays only)
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class Challenge:
    id: str
    email: str
    code_hash: str
    deliverable: bool
    attempts: int
    expires_at: dt.datetime
    used_at: dt.datetime | None = None


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_challenge_id() -> str:
    return secrets.token_urlsafe(CHALLENGE_ID_BYTES)


def code_digest(challenge_id: str, code: str) -> str:
    return hashlib.sha256(f"{challenge_id}:{code}".encode()).hexdigest()


def normalise_code(text: str) -> str | None:
    """Digits only (spaces and dashes people type are dropped); None if not a code."""
    digits = "".join(c for c in text[:32] if c not in " -\t")
    if len(digits) != CODE_DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return digits


def decide(challenge: Challenge, code: str, now: dt.datetime, recent_failures: int) -> OtpOutcome:
    """The outcome of one try. WRONG is the only outcome that counts as a failure."""
    if recent_failures >= MAX_FAILURES_PER_WINDOW:
        return OtpOutcome.LOCKED
    if challenge.used_at is not None or now >= challenge.expires_at:
        return OtpOutcome.EXPIRED
    if challenge.attempts >= MAX_ATTEMPTS_PER_CODE:
        return OtpOutcome.EXHAUSTED
    digits = normalise_code(code)
    presented = code_digest(challenge.id, digits) if digits is not None else ""
    if (
        digits is not None
        and hmac.compare_digest(presented, challenge.code_hash)
        and challenge.deliverable
    ):
        return OtpOutcome.OK
    return OtpOutcome.WRONG
