"""Who is behind a proxied request: proxy tokens (non-browser clients) and browser sessions.

Authorization endpoints identify each user. Clients that can send credentials use a per-user
proxy token: ``Proxy-Authorization: Basic base64(email:token)`` (curl ``--proxy-user``) or
``Proxy-Authorization: Bearer token``; the token's sha256 is looked up in the snapshot (no
store access per request). Browsers log in through Access on the team domain instead; the
login binds their source address to them for the session (``proxy_sessions``), which the proxy
looks up here with a short cache.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

from ramparts.config.proxy import ProxyConfig, ProxyTokenEntry
from ramparts.policy import Identity
from ramparts.proxy.limits import MAX_CACHED_SESSIONS, SESSION_CACHE_SECONDS, SESSION_MISS_SECONDS
from ramparts.store import Database, StoreUnavailable
from ramparts.store.repositories import proxy_sessions

log = logging.getLogger(__name__)

MAX_CREDENTIALS = 1024
"""Longest Proxy-Authorization value looked at (a token plus an e-mail address fit easily)."""


class CredentialError(Exception):
    """Proxy credentials were sent but are not valid (wrong, expired, another endpoint)."""


@dataclass(frozen=True, slots=True)
class ProxyUser:
    """An identified user: the policy identity and how they were identified."""

    identity: Identity
    method: str  # "token" or "browser"

    @property
    def email(self) -> str:
        return self.identity.email or ""


def token_entry(config: ProxyConfig, header: bytes, now: float) -> ProxyTokenEntry:
    """The proxy token of a Proxy-Authorization value; CredentialError when not valid."""
    if len(header) > MAX_CREDENTIALS:
        raise CredentialError("credentials too long")
    scheme, _, value = header.strip().partition(b" ")
    scheme = scheme.lower()
    value = value.strip()
    user = ""
    if scheme == b"basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialError("malformed Basic credentials") from None
        user, sep, secret = decoded.partition(":")
        if not sep:
            raise CredentialError("malformed Basic credentials")
    elif scheme == b"bearer":
        try:
            secret = value.decode("ascii")
        except UnicodeDecodeError:
            raise CredentialError("malformed Bearer credentials") from None
    else:
        raise CredentialError("unsupported authentication scheme (use Basic or Bearer)")
    # Keyed by the sha256 of the secret: a lookup leaks nothing useful about the secret.
    entry = config.tokens.get(hashlib.sha256(secret.encode("utf-8")).hexdigest())
    if entry is None:
        raise CredentialError("unknown proxy token")
    if entry.expires_at is not None and entry.expires_at <= now:
        raise CredentialError("proxy token expired")
    if user and user.lower() != entry.email.lower():
        raise CredentialError("the user name is not the token's user")
    return entry


def token_user(entry: ProxyTokenEntry) -> ProxyUser:
    return ProxyUser(Identity(email=entry.email, groups=entry.groups, idp="proxy-token"), "token")


class BrowserSessions:
    """Source address -> user bindings of authorization endpoints, from the store, cached."""

    def __init__(self, db: Database | None) -> None:
        self._db = db
        self._cache: OrderedDict[tuple[str, str], tuple[float, ProxyUser | None]] = OrderedDict()
        self._inflight: dict[tuple[str, str], asyncio.Future[ProxyUser | None]] = {}

    async def lookup(self, endpoint_id: str, src_ip: str) -> ProxyUser | None:
        key = (endpoint_id, src_ip)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ProxyUser | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            user = await asyncio.to_thread(self._read, endpoint_id, src_ip)
        except StoreUnavailable:
            user = None  # fail closed: unidentified (407), never someone else
            log.warning("proxy sessions unavailable: store down")
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning
            raise
        finally:
            self._inflight.pop(key, None)
        ttl = SESSION_CACHE_SECONDS if user is not None else SESSION_MISS_SECONDS
        self._cache[key] = (time.monotonic() + ttl, user)
        self._cache.move_to_end(key)
        while len(self._cache) > MAX_CACHED_SESSIONS:
            self._cache.popitem(last=False)
        future.set_result(user)
        return user

    def forget(self) -> None:
        self._cache.clear()

    def _read(self, endpoint_id: str, src_ip: str) -> ProxyUser | None:
        if self._db is None:
            return None
        with self._db.session() as session:
            row = proxy_sessions.find(session, endpoint_id, src_ip)
            if row is None:
                return None
            identity = Identity(
                email=row.email, groups=tuple(row.groups or ()), idp=row.idp or None
            )
        return ProxyUser(identity, "browser")
