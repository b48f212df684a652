"""OIDC relying party: discovery parsing, ID token checks (every forgery fails), claims."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.identity.errors import IdpConfigError, IdpError
from ramparts.identity.oidc import (
    ProviderMetadata,
    authorization_url,
    claim_path,
    login_from_claims,
    parse_discovery,
    parse_settings,
    pkce_pair,
    verify_id_token,
)

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
ISSUER = "https://idp.example.com"
SETTINGS = parse_settings(
    {"issuer": ISSUER, "client_id": "ramparts", "groups_claim": "realm.roles"}, "secret"
)
META = ProviderMetadata(
    ISSUER, f"{ISSUER}/auth", f"{ISSUER}/token", f"{ISSUER}/jwks", algorithms=("RS256", "ES256")
)
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _jwk(public: Any, kid: str, alg: str) -> dict[str, Any]:
    cls = jwt.algorithms.RSAAlgorithm if alg.startswith("RS") else jwt.algorithms.ECAlgorithm
    data = json.loads(cls.to_jwk(public))
    return {**data, "kid": kid, "use": "sig", "alg": alg}


JWKS = {"keys": [_jwk(KEY.public_key(), "k1", "RS256"), _jwk(EC_KEY.public_key(), "k2", "ES256")]}


def id_token(key: Any = KEY, kid: str = "k1", alg: str = "RS256", **overrides: Any) -> str:
    claims = {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": "ramparts",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 300,
        "nonce": "n-1",
        "email": "Alice@Example.com",
        "realm": {"roles": ["eng", "ops"]},
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def check(token: str, nonce: str = "n-1", now: dt.datetime = NOW) -> dict[str, Any]:
    return verify_id_token(token, JWKS, META, SETTINGS, nonce=nonce, now=now)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_valid_tokens_rs256_and_es256() -> None:
    login = login_from_claims(check(id_token()), SETTINGS)
    assert login.email == "alice@example.com" and login.groups == ("eng", "ops")
    assert check(id_token(EC_KEY, "k2", "ES256"))["sub"] == "user-1"


@pytest.mark.parametrize(
    ("overrides", "nonce", "now"),
    [
        ({"aud": "someone-else"}, "n-1", NOW),
        ({"iss": "https://evil.example.com"}, "n-1", NOW),
        ({}, "other-nonce", NOW),
        ({"nonce": None}, "n-1", NOW),
        ({}, "n-1", NOW + dt.timedelta(minutes=10)),  # expired (beyond leeway)
        ({"iat": int(NOW.timestamp()) + 3600, "exp": int(NOW.timestamp()) + 7200}, "n-1", NOW),
        ({"aud": ["ramparts", "other"]}, "n-1", NOW),  # several audiences, no azp
        ({"sub": None}, "n-1", NOW),
    ],
)
def test_bad_claims_are_refused(overrides: dict[str, Any], nonce: str, now: dt.datetime) -> None:
    with pytest.raises(IdpError):
        check(id_token(**overrides), nonce=nonce, now=now)


def test_forged_signatures_are_refused() -> None:
    token = id_token()
    head, body, sig = token.split(".")
    none = b64(json.dumps({"alg": "none", "kid": "k1"}).encode())
    hs_head = b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    public_pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    mac = hmac.new(public_pem, f"{hs_head}.{body}".encode(), hashlib.sha256).digest()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tampered = b64(
        json.dumps(
            {**jwt.decode(token, options={"verify_signature": False}), "email": "root@example.com"}
        ).encode()
    )
    for forged in (
        f"{none}.{body}.",
        f"{hs_head}.{body}.{b64(mac)}",
        id_token(other),  # right kid, wrong key
        id_token(kid="k9"),  # unknown kid
        id_token(EC_KEY, "k1", "ES256"),  # EC signature under the RSA key's kid
        f"{head}.{tampered}.{sig}",
        "not.a.token",
    ):
        with pytest.raises(IdpError):
            check(forged)


def test_algorithm_not_offered_by_the_provider_is_refused() -> None:
    rs_only = ProviderMetadata(ISSUER, "a", "t", "j", algorithms=("RS256",))
    with pytest.raises(IdpError):
        verify_id_token(
            id_token(EC_KEY, "k2", "ES256"), JWKS, rs_only, SETTINGS, nonce="n-1", now=NOW
        )


def test_claims() -> None:
    with pytest.raises(IdpError):
        login_from_claims({"sub": "x", "email": "a@b.c", "email_verified": False}, SETTINGS)
    with pytest.raises(IdpError):
        login_from_claims({"sub": "x"}, SETTINGS)
    flat = parse_settings({"issuer": ISSUER, "client_id": "c", "groups_claim": "groups"}, "")
    assert login_from_claims({"sub": "x", "email": "a@b.c", "groups": "solo"}, flat).groups == (
        "solo",
    )
    assert claim_path({"a.b": 1, "a": {"b": 2}}, "a.b") == 1
    assert claim_path({"a": {"b": {"c": [1]}}}, "a.b.c") == [1]
    assert claim_path({"a": 3}, "a.b") is None


def test_settings_and_discovery() -> None:
    for bad in (
        {"issuer": "http://idp.example.com", "client_id": "c"},  # http off loopback
        {"issuer": "https://user:pw@idp.example.com", "client_id": "c"},
        {"issuer": ISSUER},
        {"issuer": ISSUER, "client_id": "c", "token_auth": "private_key_jwt"},
        {"issuer": ISSUER, "client_id": "c", "scopes": "openid"},
    ):
        with pytest.raises(IdpConfigError):
            parse_settings(bad, "")
    assert parse_settings({"issuer": "http://127.0.0.1:9/", "client_id": "c"}, "").issuer == (
        "http://127.0.0.1:9"
    )
    doc = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/auth",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/jwks",
        "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
    }
    meta = parse_discovery(doc, ISSUER)
    assert meta.algorithms == ("RS256",)
    with pytest.raises(IdpError):
        parse_discovery({**doc, "issuer": "https://evil.example.com"}, ISSUER)
    with pytest.raises(IdpError):
        parse_discovery({**doc, "token_endpoint": "http://evil.example.com/t"}, ISSUER)
    with pytest.raises(IdpError):
        parse_discovery({**doc, "id_token_signing_alg_values_supported": ["HS256"]}, ISSUER)


def test_pkce_and_authorization_url() -> None:
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    expected = b64(hashlib.sha256(verifier.encode()).digest())
    assert challenge == expected
    url = authorization_url(
        META, SETTINGS, redirect_uri="https://t/cb", state="s", nonce="n", code_challenge=challenge
    )
    assert url.startswith(f"{ISSUER}/auth?") and "code_challenge_method=S256" in url


TOKEN = id_token()
JWK_VALUES = st.fixed_dictionaries(
    {"keys": st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "kty": st.sampled_from(["RSA", "EC", "oct", "OKP", "x"]),
                "kid": st.sampled_from(["k1", "k2", ""]),
                "use": st.sampled_from(["sig", "enc"]),
                "n": st.text(max_size=8), "e": st.text(max_size=4),
                "crv": st.sampled_from(["P-256", "Ed25519", "x"]),
                "x": st.text(max_size=8), "y": st.text(max_size=8), "k": st.text(max_size=8),
            },
        ),
        max_size=3,
    )}
)  # fmt: skip
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=25), inner, max_size=5)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES | JWK_VALUES)
def test_fuzz_discovery_and_claims(doc: Any) -> None:
    """Untrusted provider answers give a result or IdpError, nothing else."""
    with contextlib.suppress(IdpError):
        parse_discovery(doc, ISSUER)
    if isinstance(doc, dict):
        with contextlib.suppress(IdpError):
            login_from_claims(doc, SETTINGS)
        with contextlib.suppress(IdpError):
            verify_id_token(TOKEN, doc, META, SETTINGS, nonce="n-1", now=NOW)
