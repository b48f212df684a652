"""Session tokens: issue/verify round trip and every forgery the issue lists fails closed."""

from __future__ import annotations

import base64
import datetime as dt
import json

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.identity.errors import TokenError
from ramparts.identity.keys import (
    KEY_OVERLAP,
    KeyRecord,
    build_ring,
    generate_key,
    rotation_due,
)
from ramparts.identity.tokens import Identity, TokenType, issue, verify

NOW = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
ISS = "https://acme.localhost"
AUD = "a" * 64
ALICE = Identity("u-1", "alice@example.com", "idp-1", "oidc", "Alice", ("eng",))
_KEYS = [generate_key() for _ in range(2)]


def ring(*indexes: int, now: dt.datetime = NOW, retired: dt.datetime | None = None):
    records = [
        KeyRecord(
            _KEYS[i].kid,
            _KEYS[i].private_pem,
            _KEYS[i].public_jwk,
            NOW - dt.timedelta(days=10 - i),
            retired if i == 0 else None,
        )
        for i in indexes
    ]
    return build_ring(records, now)


RING0 = ring(0)


def app_token(r=None, **kw) -> str:
    args = dict(
        type=TokenType.APP,
        issuer=ISS,
        audience=AUD,
        now=NOW,
        lifetime=dt.timedelta(hours=1),
        identity=ALICE,
    )
    args.update(kw)
    return issue(r or RING0, **args)  # type: ignore[arg-type]


def check(token: str, r=None, **kw):
    args = dict(type=TokenType.APP, issuer=ISS, audience=AUD, now=NOW)
    args.update(kw)
    return verify(token, r or RING0, **args)  # type: ignore[arg-type]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict, payload: dict, signature: bytes = b"") -> str:
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(payload).encode())
    return f"{head}.{body}.{b64(signature)}"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_round_trip_carries_the_documented_claims() -> None:
    token = app_token()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"] == _KEYS[0].kid
    claims = claims_of(token)
    assert claims["iss"] == ISS and claims["aud"] == [AUD]
    assert claims["email"] == "alice@example.com" and claims["sub"] == "u-1"
    assert claims["groups"] == ["eng"] and claims["exp"] - claims["iat"] == 3600
    verified = check(token)
    assert verified.identity == ALICE
    assert verified.expires_at == NOW + dt.timedelta(hours=1)


def test_alg_none_is_refused() -> None:
    payload = claims_of(app_token())
    forged = raw_token({"alg": "none", "typ": "JWT", "kid": _KEYS[0].kid}, payload)
    with pytest.raises(TokenError):
        check(forged)
    with pytest.raises(TokenError):
        check(forged.rstrip("."))


def test_hs256_signed_with_the_public_key_is_refused() -> None:
    """Key confusion: the public key (PEM or JWK JSON) used as an HMAC secret."""
    payload = claims_of(app_token())
    public_pem = (
        ring(0)
        .public_keys[_KEYS[0].kid]
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for secret in (public_pem, json.dumps(dict(_KEYS[0].public_jwk)).encode()):
        header = b64(json.dumps({"alg": "HS256", "kid": _KEYS[0].kid}).encode())
        body = b64(json.dumps(payload).encode())
        import hmac

        mac = hmac.new(secret, f"{header}.{body}".encode(), "sha256").digest()
        with pytest.raises(TokenError):
            check(f"{header}.{body}.{b64(mac)}")


def test_rs256_header_with_a_foreign_key_is_refused() -> None:
    other = generate_key()
    foreign = ring(1)  # signs with key 1, which the verifier's ring does not hold
    assert other.kid != _KEYS[0].kid
    with pytest.raises(TokenError, match="unknown key"):
        check(app_token(foreign))


def test_unknown_and_missing_kid_are_refused() -> None:
    token = app_token()
    _header, body, sig = token.split(".")
    for hdr in ({"alg": "RS256"}, {"alg": "RS256", "kid": "nope"}, {"alg": "RS256", "kid": 5}):
        with pytest.raises(TokenError):
            check(".".join([b64(json.dumps(hdr).encode()), body, sig]))


def test_tampered_payload_is_refused() -> None:
    token = app_token()
    header, body, sig = token.split(".")
    claims = claims_of(token)
    claims["email"] = "mallory@example.com"
    with pytest.raises(TokenError):
        check(".".join([header, b64(json.dumps(claims).encode()), sig]))
    # one flipped bit in the signature
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[-1] ^= 1
    with pytest.raises(TokenError):
        check(".".join([header, body, b64(bytes(raw))]))


def test_wrong_audience_issuer_and_type_are_refused() -> None:
    token = app_token()
    with pytest.raises(TokenError):
        check(token, audience="b" * 64)  # app A's token replayed on app B
    with pytest.raises(TokenError):
        check(token, issuer="https://evil.localhost")
    with pytest.raises(TokenError):
        check(token, type=TokenType.TEAM)
    with pytest.raises(TokenError):
        check(app_token(type=TokenType.TRANSFER))


def test_expired_and_not_yet_valid_are_refused() -> None:
    token = app_token()
    check(token, now=NOW + dt.timedelta(minutes=60))  # within the leeway
    with pytest.raises(TokenError, match="expired"):
        check(token, now=NOW + dt.timedelta(minutes=62))
    with pytest.raises(TokenError, match="not valid yet"):
        check(token, now=NOW - dt.timedelta(minutes=5))


def test_correctly_signed_token_with_bad_claims_is_refused() -> None:
    """Signed by our own key but shaped wrong (a bug elsewhere must still fail closed)."""
    key = ring(0).signing
    assert key is not None
    base = claims_of(app_token())
    bad_variants = [
        {**base, "exp": str(base["exp"])},
        {**base, "exp": base["iat"] + 86400 * 365},  # longer than any session
        {k: v for k, v in base.items() if k != "type"},
        {k: v for k, v in base.items() if k != "exp"},
        {**base, "email": ["a@example.com"]},
    ]
    for claims in bad_variants:
        token = jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})
        with pytest.raises(TokenError):
            check(token)


def test_ps256_with_the_same_key_is_refused() -> None:
    key = ring(0).signing
    assert key is not None
    payload = claims_of(app_token())
    header = b64(json.dumps({"alg": "PS256", "kid": key.kid}).encode())
    body = b64(json.dumps(payload).encode())
    sig = key.private_key.sign(
        f"{header}.{body}".encode(),
        padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH),
        hashes.SHA256(),
    )
    with pytest.raises(TokenError):
        check(f"{header}.{body}.{b64(sig)}")


def test_rotation_keeps_old_tokens_valid_for_the_overlap() -> None:
    retired_at = NOW
    before = app_token(ring(0))
    rotated = ring(0, 1, retired=retired_at)
    assert rotated.signing is not None and rotated.signing.kid == _KEYS[1].kid
    assert {k["kid"] for k in rotated.jwks["keys"]} == {_KEYS[0].kid, _KEYS[1].kid}
    check(before, rotated)
    check(app_token(rotated), rotated)
    later = NOW + KEY_OVERLAP + dt.timedelta(seconds=1)
    gone = ring(0, 1, now=later, retired=retired_at)
    assert [k["kid"] for k in gone.jwks["keys"]] == [_KEYS[1].kid]
    with pytest.raises(TokenError, match="unknown key"):
        check(before, gone)


def test_rotation_due() -> None:
    record = KeyRecord(_KEYS[0].kid, _KEYS[0].private_pem, _KEYS[0].public_jwk, NOW)
    assert rotation_due([], NOW)
    assert not rotation_due([record], NOW + dt.timedelta(days=1))
    assert rotation_due([record], NOW + dt.timedelta(days=91))


def test_private_key_never_in_repr() -> None:
    assert "PRIVATE" not in repr(_KEYS[0])
    assert "PRIVATE" not in repr(ring(0))


def test_jwks_has_public_members_only() -> None:
    doc = json.loads(ring(0).jwks_json())
    (key,) = doc["keys"]
    assert set(key) == {"kid", "kty", "alg", "use", "n", "e"}
    public = jwt.PyJWK(key).key
    token = app_token()
    assert jwt.decode(
        token, public, algorithms=["RS256"], audience=AUD, options={"verify_exp": False}
    )


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_fuzz_verify_returns_or_raises_token_error(text: str) -> None:
    try:
        check(text)
    except TokenError:
        return
    raise AssertionError("garbage verified")


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=8),
        st.none() | st.integers() | st.text(max_size=8) | st.lists(st.integers(), max_size=2),
        max_size=6,
    ),
    st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit"]), st.text(max_size=8)),
)
def test_fuzz_structured_garbage(payload: dict, header: dict) -> None:
    token = raw_token(header, payload, b"x" * 256)
    with pytest.raises(TokenError):
        check(token)


def test_verified_token_cache_keeps_every_check() -> None:
    from ramparts.identity.tokens import VerifiedTokens

    cache = VerifiedTokens(size=2)
    token = app_token()
    assert cache.verify(token, RING0, type=TokenType.APP, issuer=ISS, audience=AUD, now=NOW)
    again = cache.verify(token, RING0, type=TokenType.APP, issuer=ISS, audience=AUD, now=NOW)
    assert again.identity == ALICE
    with pytest.raises(TokenError):  # same token, other audience: not served from the cache
        cache.verify(token, RING0, type=TokenType.APP, issuer=ISS, audience="b" * 64, now=NOW)
    with pytest.raises(TokenError):
        cache.verify(token, RING0, type=TokenType.TEAM, issuer=ISS, audience=AUD, now=NOW)
    with pytest.raises(TokenError, match="expired"):
        cache.verify(
            token, RING0, type=TokenType.APP, issuer=ISS, audience=AUD,
            now=NOW + dt.timedelta(hours=2),
        )  # fmt: skip
    other_ring = ring(1)  # a new snapshot without key 0: the cached success is forgotten
    with pytest.raises(TokenError, match="unknown key"):
        cache.verify(token, other_ring, type=TokenType.APP, issuer=ISS, audience=AUD, now=NOW)
    for garbage in ("a.b.c", "x" * 20, "eyJhbGciOiJub25lIn0.e30."):
        with pytest.raises(TokenError):
            cache.verify(garbage, RING0, type=TokenType.APP, issuer=ISS, audience=AUD, now=NOW)
