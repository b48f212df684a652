"""Random secrets and their digests.

Every secret Ramparts issues (API tokens, tunnel secrets, service tokens) is 32 random bytes from
the OS CSPRNG, so a single sha256 is enough to store it: there is nothing to brute-force that a
slow password hash would protect. Comparisons are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_BYTES = 32  # 256 bits of entropy per issued secret


def new_secret(prefix: str = "") -> str:
    """A fresh URL-safe secret, optionally with a short readable prefix (``rpt_``…)."""
    body = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).rstrip(b"=").decode()
    return prefix + body


def digest(secret: str) -> str:
    """The stored form of a secret: lower-case sha256 hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def matches(secret: str, stored_digest: str) -> bool:
    """Constant-time check of ``secret`` against a stored digest."""
    return hmac.compare_digest(digest(secret), stored_digest)
