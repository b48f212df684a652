"""OpenID Connect relying party: authorization code flow with PKCE (RFC 7636), issuer
discovery, ID token verification against the provider's JWKS, configurable claims.

Pure functions build the authorization URL and check what comes back; :class:`OidcClient` does
the HTTP (discovery, JWKS, token and userinfo endpoints) through an ``httpx.AsyncClient`` the
caller owns, and caches discovery documents and key sets.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import jwt

from ramparts.identity.errors import IdpConfigError, IdpError

DISCOVERY_PATH = "/.well-known/openid-configuration"
DISCOVERY_TTL = dt.timedelta(minutes=10)  # provider metadata and keys are re-read this often
JWKS_REFETCH_MIN = dt.timedelta(seconds=30)  # an unknown kid refetches keys at most this often
HTTP_TIMEOUT = 10.0
MAX_RESPONSE_BYTES = 512 * 1024  # discovery, JWKS, token responses are a few KiB
CLOCK_LEEWAY = dt.timedelta(seconds=120)  # IdP clocks are not ours
PKCE_VERIFIER_BYTES = 48  # 64 characters, within RFC 7636 §4.1's 43..128
# Asymmetric algorithms only: HS* would need the client secret as the key, "none" nothing.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
MAX_GROUPS = 256
MAX_TEXT = 320


@dataclass(frozen=True, slots=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    email_claim: str = "email"
    groups_claim: str = "groups"
    name_claim: str = "name"
    token_auth: str = "client_secret_basic"  # noqa: S105 - or client_secret_post


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = ""
    algorithms: tuple[str, ...] = ("RS256",)


@dataclass(frozen=True, slots=True)
class OidcLogin:
    subject: str
    email: str
    name: str
    groups: tuple[str, ...]


def parse_settings(config: Mapping[str, Any], secret: str) -> OidcSettings:
    """Validated settings from an identity provider row (IdpConfigError names the field)."""
    issuer = config.get("issuer")
    client_id = config.get("client_id")
    if not isinstance(issuer, str) or not _endpoint_ok(issuer):
        raise IdpConfigError("issuer must be an https URL (http only on loopback)")
    if not isinstance(client_id, str) or not client_id or len(client_id) > 256:
        raise IdpConfigError("client_id is required")
    scopes = config.get("scopes", ["openid", "email", "profile"])
    if not isinstance(scopes, list) or not all(isinstance(s, str) and s for s in scopes):
        raise IdpConfigError("scopes must be a list of names")
    if "openid" not in scopes:
        scopes = ["openid", *scopes]
    claims = {}
    for key, default in (
        ("email_claim", "email"),
        ("groups_claim", "groups"),
        ("name_claim", "name"),
    ):
        value = config.get(key, default)
        if not isinstance(value, str) or len(value) > 128:
            raise IdpConfigError(f"{key} must be a claim name (dotted for nested claims)")
        claims[key] = value
    token_auth = config.get("token_auth", "client_secret_basic")
    if token_auth not in ("client_secret_basic", "client_secret_post"):
        raise IdpConfigError("token_auth must be client_secret_basic or client_secret_post")
    return OidcSettings(
        issuer=issuer.rstrip("/"),
        client_id=client_id,
        client_secret=secret,
        scopes=tuple(dict.fromkeys(scopes)),
        token_auth=token_auth,
        **claims,
    )


def parse_discovery(doc: Any, expected_issuer: str) -> ProviderMetadata:
    """Provider metadata (OpenID Connect Discovery 1.0 §3); the issuer must be ours (§4.3)."""
    if not isinstance(doc, Mapping):
        raise IdpError("discovery document is not a JSON object")
    issuer = doc.get("issuer")
    if not isinstance(issuer, str) or issuer.rstrip("/") != expected_issuer.rstrip("/"):
        raise IdpError("discovery document names another issuer")
    endpoints: dict[str, str] = {}
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = doc.get(key)
        if not isinstance(value, str) or not _endpoint_ok(value):
            raise IdpError(f"discovery document has no usable {key}")
        endpoints[key] = value
    userinfo = doc.get("userinfo_endpoint", "")
    if not isinstance(userinfo, str) or (userinfo and not _endpoint_ok(userinfo)):
        userinfo = ""
    listed = doc.get("id_token_signing_alg_values_supported", ["RS256"])
    algorithms = tuple(
        a for a in (listed if isinstance(listed, list) else []) if a in ASYMMETRIC_ALGORITHMS
    )
    if not algorithms:
        raise IdpError("the provider signs ID tokens with no algorithm we accept")
    return ProviderMetadata(
        issuer=issuer, userinfo_endpoint=userinfo, algorithms=algorithms, **endpoints
    )


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(PKCE_VERIFIER_BYTES)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def authorization_url(
    meta: ProviderMetadata,
    settings: OidcSettings,
    *,
    redirect_uri: str,
    state: str,
    nonce: str,
    code_challenge: str,
) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(settings.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
    )
    sep = "&" if urlsplit(meta.authorization_endpoint).query else "?"
    return f"{meta.authorization_endpoint}{sep}{query}"


def verify_id_token(
    id_token: str,
    jwks: Mapping[str, Any],
    meta: ProviderMetadata,
    settings: OidcSettings,
    *,
    nonce: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """The ID token's claims after every check of OIDC Core §3.1.3.7 that applies."""
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as exc:
        raise IdpError(f"malformed ID token: {exc}") from None
    alg = header.get("alg")
    if alg not in meta.algorithms:
        raise IdpError(f"ID token algorithm {alg!r} is not accepted")
    key = _key_for(jwks, header.get("kid"), str(alg))
    try:
        claims = jwt.decode(
            id_token,
            key,
            algorithms=[str(alg)],
            audience=settings.client_id,
            issuer=meta.issuer,
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "require": ["iss", "sub", "aud", "exp", "iat"],
            },
        )
    except jwt.PyJWTError as exc:
        raise IdpError(f"ID token rejected: {exc}") from None
    stamp, leeway = now.timestamp(), CLOCK_LEEWAY.total_seconds()
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise IdpError("ID token times are not numbers")
    if exp <= stamp - leeway:
        raise IdpError("ID token expired")
    if iat > stamp + leeway:
        raise IdpError("ID token issued in the future")
    if claims.get("nonce") != nonce:
        raise IdpError("ID token nonce does not match this login")
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != settings.client_id:
        raise IdpError("ID token was issued to another client")
    return claims


def login_from_claims(claims: Mapping[str, Any], settings: OidcSettings) -> OidcLogin:
    """Subject, email, name and groups from (merged) claims, per the configured claim names."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise IdpError("the provider sent no subject")
    email = claim_path(claims, settings.email_claim)
    if not isinstance(email, str) or "@" not in email or len(email) > 254:
        raise IdpError(f"the provider sent no email address in claim {settings.email_claim!r}")
    if claims.get("email_verified") is False:
        raise IdpError("the provider says this email address is not verified")
    name = claim_path(claims, settings.name_claim)
    raw_groups = claim_path(claims, settings.groups_claim)
    if isinstance(raw_groups, str):
        raw_groups = [raw_groups]
    groups: tuple[str, ...] = ()
    if isinstance(raw_groups, list):
        groups = tuple(
            dict.fromkeys(
                g for g in raw_groups[:MAX_GROUPS] if isinstance(g, str) and 0 < len(g) <= MAX_TEXT
            )
        )
    return OidcLogin(
        subject=subject,
        email=email.strip().lower(),
        name=name[:MAX_TEXT] if isinstance(name, str) else "",
        groups=groups,
    )


def claim_path(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, or by dotted path into nested objects (``realm_access.roles``)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _key_for(jwks: Mapping[str, Any], kid: Any, alg: str) -> Any:
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        raise IdpError("the provider's key set is not a JWKS")
    candidates = [k for k in keys if isinstance(k, Mapping) and k.get("use", "sig") == "sig"]
    if kid is not None:
        candidates = [k for k in candidates if k.get("kid") == kid]
    elif len(candidates) != 1:
        raise IdpError("ID token names no key and the provider has several")
    if not candidates:
        raise IdpError("ID token signed by a key the provider does not publish")
    try:
        return jwt.PyJWK(dict(candidates[0]), algorithm=alg).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise IdpError(f"the provider's key cannot be used: {exc}") from None


def _endpoint_ok(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if not parts.hostname or parts.username or parts.password or len(url) > 2048:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and _loopback(parts.hostname)


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(slots=True)
class _Cached:
    value: Any
    at: dt.datetime


class OidcClient:
    """HTTP side of the relying party; the caller owns ``http`` and passes ``now``."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._meta: dict[str, _Cached] = {}
        self._jwks: dict[str, _Cached] = {}

    async def metadata(self, settings: OidcSettings, now: dt.datetime) -> ProviderMetadata:
        cached = self._meta.get(settings.issuer)
        if cached is not None and now - cached.at < DISCOVERY_TTL:
            meta: ProviderMetadata = cached.value
            return meta
        doc = await self._get_json(settings.issuer + DISCOVERY_PATH)
        meta = parse_discovery(doc, settings.issuer)
        self._meta[settings.issuer] = _Cached(meta, now)
        return meta

    async def login(
        self,
        settings: OidcSettings,
        *,
        code: str,
        redirect_uri: str,
        verifier: str,
        nonce: str,
        now: dt.datetime,
    ) -> OidcLogin:
        """Exchange the code (with the PKCE verifier), verify the ID token, read the claims."""
        meta = await self.metadata(settings, now)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        auth: tuple[str, str] | None = None
        if settings.token_auth == "client_secret_post":  # noqa: S105 - a method name
            form.update(client_id=settings.client_id, client_secret=settings.client_secret)
        else:
            auth = (settings.client_id, settings.client_secret)
        answer = await self._request("POST", meta.token_endpoint, data=form, auth=auth)
        if not isinstance(answer, Mapping) or not isinstance(answer.get("id_token"), str):
            raise IdpError("the token endpoint returned no ID token")
        claims = await self._verified_claims(answer["id_token"], meta, settings, nonce, now)
        access_token = answer.get("access_token")
        if (
            claim_path(claims, settings.email_claim) is None
            and meta.userinfo_endpoint
            and isinstance(access_token, str)
        ):
            extra = await self._request(
                "GET",
                meta.userinfo_endpoint,
                headers={"Authorization": f"Bearer {access_token}"},
            )
            if isinstance(extra, Mapping) and extra.get("sub") == claims.get("sub"):
                claims = {**extra, **claims}
        return login_from_claims(claims, settings)

    async def _verified_claims(
        self,
        id_token: str,
        meta: ProviderMetadata,
        settings: OidcSettings,
        nonce: str,
        now: dt.datetime,
    ) -> dict[str, Any]:
        jwks = await self._keys(meta, now, refresh=False)
        try:
            return verify_id_token(id_token, jwks, meta, settings, nonce=nonce, now=now)
        except IdpError as exc:
            if "does not publish" not in str(exc):
                raise
        # A key rotation at the provider: read its keys again (bounded), then once more.
        jwks = await self._keys(meta, now, refresh=True)
        return verify_id_token(id_token, jwks, meta, settings, nonce=nonce, now=now)

    async def _keys(self, meta: ProviderMetadata, now: dt.datetime, refresh: bool) -> Any:
        cached = self._jwks.get(meta.jwks_uri)
        if cached is not None:
            age = now - cached.at
            if age < (JWKS_REFETCH_MIN if refresh else DISCOVERY_TTL):
                return cached.value
        doc = await self._get_json(meta.jwks_uri)
        if not isinstance(doc, Mapping):
            raise IdpError("the provider's key set is not a JSON object")
        self._jwks[meta.jwks_uri] = _Cached(doc, now)
        return doc

    async def _get_json(self, url: str) -> Any:
        return await self._request("GET", url)

    async def _request(
        self,
        method: str,
        url: str,
        *,
        data: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        try:
            async with self._http.stream(
                method,
                url,
                data=data,
                auth=auth,
                headers={"Accept": "application/json", **(headers or {})},
                timeout=HTTP_TIMEOUT,
                follow_redirects=False,
            ) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_RESPONSE_BYTES:
                        raise IdpError(f"{url} answered more than {MAX_RESPONSE_BYTES} bytes")
                status = response.status_code
        except httpx.HTTPError as exc:
            raise IdpError(f"cannot reach the identity provider: {exc}") from None
        if status != 200:
            raise IdpError(f"{url} answered HTTP {status}")
        try:
            return json.loads(body)
        except ValueError:
            raise IdpError(f"{url} did not answer JSON") from None
