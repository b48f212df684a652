"""Access signing keys: RSA key pairs that sign session tokens (RS256), their JWKS, rotation.

A key signs from its creation until it is retired by a rotation; it stays published (and
accepted) for ``KEY_OVERLAP`` after that, so every token it signed can live out its lifetime.
Private keys exist only in the store and in memory; ``repr`` never shows them.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ramparts.identity.errors import IdentityError

RSA_KEY_BITS = 2048  # RS256 with 2048-bit keys: what the brief's Access publishes
RSA_PUBLIC_EXPONENT = 65537
ALGORITHM = "RS256"
MAX_SESSION_DURATION = dt.timedelta(days=30)  # longest session any token may be issued for
KEY_OVERLAP = MAX_SESSION_DURATION + dt.timedelta(hours=1)  # a retired key outlives its tokens
KEY_ROTATION_INTERVAL = dt.timedelta(days=90)  # a key older than this is due for rotation
KEY_CACHE_SIZE = 16  # parsed private keys kept across snapshot builds (published keys: 2-3)


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly generated key, as the store keeps it."""

    kid: str
    private_pem: str = field(repr=False)
    public_jwk: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A stored key and its life dates (``retired_at``: stopped signing)."""

    kid: str
    private_pem: str = field(repr=False)
    public_jwk: Mapping[str, str]
    created_at: dt.datetime
    retired_at: dt.datetime | None = None

    def published(self, now: dt.datetime) -> bool:
        return self.retired_at is None or now < self.retired_at + KEY_OVERLAP


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey = field(repr=False)


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The key that signs now and every key whose tokens are still accepted (by kid)."""

    signing: SigningKey | None
    public_keys: Mapping[str, rsa.RSAPublicKey] = field(
        default_factory=lambda: MappingProxyType({})
    )
    jwks: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({"keys": ()}))

    def jwks_json(self) -> bytes:
        return json.dumps(
            {"keys": [dict(k) for k in self.jwks["keys"]]}, separators=(",", ":")
        ).encode()


EMPTY_RING = KeyRing(None)


def generate_key() -> NewKey:
    key = rsa.generate_private_key(public_exponent=RSA_PUBLIC_EXPONENT, key_size=RSA_KEY_BITS)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    jwk = public_jwk(key.public_key())
    return NewKey(jwk["kid"], pem, MappingProxyType(jwk))


def public_jwk(key: rsa.RSAPublicKey) -> dict[str, str]:
    """The JWK of a public key; ``kid`` is its RFC 7638 thumbprint."""
    numbers = key.public_numbers()
    n = _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big"))
    e = _b64(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big"))
    # RFC 7638 §3.2: required members only, lexicographic order, no whitespace.
    canonical = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"), sort_keys=True)
    kid = _b64(hashlib.sha256(canonical.encode()).digest())
    return {"kid": kid, "kty": "RSA", "alg": ALGORITHM, "use": "sig", "n": n, "e": e}


def build_ring(records: Iterable[KeyRecord], now: dt.datetime) -> KeyRing:
    """The ring of the published keys; the newest unretired one signs."""
    published = sorted(
        (r for r in records if r.published(now)), key=lambda r: r.created_at, reverse=True
    )
    signing: SigningKey | None = None
    public: dict[str, rsa.RSAPublicKey] = {}
    jwks: list[Mapping[str, str]] = []
    for record in published:
        private = _load_private(record)
        public[record.kid] = private.public_key()
        jwks.append(MappingProxyType(dict(record.public_jwk)))
        if signing is None and record.retired_at is None:
            signing = SigningKey(record.kid, private)
    return KeyRing(signing, MappingProxyType(public), MappingProxyType({"keys": tuple(jwks)}))


def rotation_due(records: Iterable[KeyRecord], now: dt.datetime) -> bool:
    """True when no key signs, or the signing key is older than ``KEY_ROTATION_INTERVAL``."""
    live = [r for r in records if r.retired_at is None]
    if not live:
        return True
    return now - max(r.created_at for r in live) >= KEY_ROTATION_INTERVAL


def _load_private(record: KeyRecord) -> rsa.RSAPrivateKey:
    key = _parse_pem(record.private_pem)
    if key is None:
        raise IdentityError(f"signing key {record.kid} cannot be loaded as an RSA key")
    return key


@functools.lru_cache(maxsize=KEY_CACHE_SIZE)
def _parse_pem(pem: str) -> rsa.RSAPrivateKey | None:
    """Parsing (and checking) an RSA key takes tens of milliseconds; snapshots are rebuilt on
    every configuration change, keys rarely change."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        return None
    return key if isinstance(key, rsa.RSAPrivateKey) else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
