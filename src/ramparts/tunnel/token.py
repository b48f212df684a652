"""The connector token: base64 of a small JSON object with everything a connector needs.

``{"v": 1, "t": tunnel id, "s": secret, "e": ["host:port", …], "ca": "sha256:…", "d": team
domain, "cac": base64 DER of the team CA certificate}``

The connector pins the team CA. The fingerprint alone cannot be a TLS trust anchor, and Python's
ssl module does not expose the peer's chain, so the (public, ~450-byte) CA certificate travels
too and is accepted only if its sha256 equals the fingerprint. The secret is only ever inside a
token; the store keeps its digest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import ssl
import uuid
from dataclasses import dataclass

TOKEN_VERSION = 1
MAX_TOKEN_LENGTH = 8192  # a token is a few hundred bytes; anything much larger is not one
MAX_EDGE_ADDRESSES = 16
MAX_CA_B64 = 4096  # an EC CA certificate is ~600 base64 chars; RSA-4096 ~2 KiB


class TokenError(ValueError):
    """The text is not a valid connector token."""


@dataclass(frozen=True, slots=True)
class ConnectorToken:
    tunnel_id: str
    secret: str
    edge_addresses: tuple[str, ...]
    ca_fingerprint: str
    team_domain: str
    ca_der: bytes  # the team CA certificate (DER); its sha256 is ca_fingerprint

    @property
    def ca_pem(self) -> bytes:
        return ssl.DER_cert_to_PEM_cert(self.ca_der).encode("ascii")

    def encode(self) -> str:
        body = {
            "v": TOKEN_VERSION,
            "t": self.tunnel_id,
            "s": self.secret,
            "e": list(self.edge_addresses),
            "ca": self.ca_fingerprint,
            "d": self.team_domain,
            "cac": base64.b64encode(self.ca_der).decode(),
        }
        return base64.b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()

    @classmethod
    def decode(cls, text: str) -> ConnectorToken:
        text = text.strip()
        if not text or len(text) > MAX_TOKEN_LENGTH:
            raise TokenError("token is empty or too long")
        try:
            padded = text + "=" * (-len(text) % 4)
            raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
            body = json.loads(raw)
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise TokenError("token is not base64-encoded JSON") from None
        if not isinstance(body, dict) or body.get("v") != TOKEN_VERSION:
            raise TokenError("unsupported token version")
        tunnel_id, secret = body.get("t"), body.get("s")
        edges, ca, domain = body.get("e"), body.get("ca"), body.get("d", "")
        if not isinstance(tunnel_id, str) or not _is_uuid(tunnel_id):
            raise TokenError("token has no valid tunnel id")
        if not isinstance(secret, str) or not secret:
            raise TokenError("token has no secret")
        if (
            not isinstance(edges, list)
            or not 0 < len(edges) <= MAX_EDGE_ADDRESSES
            or not all(isinstance(e, str) and e for e in edges)
        ):
            raise TokenError("token has no valid edge addresses")
        if not isinstance(ca, str) or not ca.startswith("sha256:"):
            raise TokenError("token has no CA fingerprint")
        if not isinstance(domain, str):
            raise TokenError("token has an invalid team domain")
        ca_der = _decode_ca(body.get("cac"), ca)
        return cls(tunnel_id, secret, tuple(edges), ca, domain, ca_der)


def fingerprint_der(der: bytes) -> str:
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _decode_ca(value: object, fingerprint: str) -> bytes:
    if not isinstance(value, str) or len(value) > MAX_CA_B64:
        raise TokenError("token has no CA certificate")
    try:
        der = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise TokenError("token's CA certificate is not base64") from None
    if fingerprint_der(der) != fingerprint.lower():
        raise TokenError("token's CA certificate does not match its fingerprint")
    return der


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
