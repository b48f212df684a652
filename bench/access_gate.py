"""Access gate benchmark: the per-request cost of ``AccessGate.check``.

Cases: a host without an application, a browser with a valid application session (RS256
verification, policy evaluation over 20 policies), a service token (secret digest, cached
assertion), and a browser without a session (login redirect). Anchor, measured in the same
run: PyJWT verifying the same session token alone (``jwt.decode`` with the RSA public key),
the floor of any proxy that checks an RS256 JWT per request.

    .venv/bin/python bench/access_gate.py [--seconds S]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable
from types import MappingProxyType

import jwt

from ramparts import secrets
from ramparts.access.gate import AccessGate, Forward, Respond
from ramparts.access.http import PublicUrls
from ramparts.config.access import AccessApp, AccessConfig, CompiledPolicy
from ramparts.config.access_rules import Action, parse_rule
from ramparts.config.snapshot import Snapshot
from ramparts.identity.keys import KeyRecord, build_ring, generate_key
from ramparts.identity.service_tokens import ServiceTokenEntry
from ramparts.identity.tokens import Identity, TokenType, issue


def build() -> tuple[AccessGate, Snapshot, str, str]:
    now = dt.datetime.now(dt.UTC)
    key = generate_key()
    ring = build_ring([KeyRecord(key.kid, key.private_pem, key.public_jwk, now)], now)
    policies = [
        CompiledPolicy(f"p{i}", f"p{i}", Action.BLOCK, i, (parse_rule(f"email=u{i}@x.org"),))
        for i in range(19)
    ]
    policies.append(CompiledPolicy("eng", "eng", Action.ALLOW, 99, (parse_rule("group=eng"),)))
    policies.insert(
        0, CompiledPolicy("ci", "ci", Action.SERVICE_AUTH, 0, (parse_rule("service_token=t"),))
    )
    app = AccessApp("a", "wiki", "wiki.acme.localhost", "", "a" * 64, dt.timedelta(hours=8),
                    tuple(policies))  # fmt: skip
    token = ServiceTokenEntry("t", "ci", "cid.access", secrets.digest("s3cret"))
    access = AccessConfig(
        apps=(app,), service_tokens=MappingProxyType({"cid.access": token}), keys=ring
    )
    snap = Snapshot(1, "acme", "acme.localhost", "", access=access)
    urls = PublicUrls("https", 443)
    who = Identity("u-1", "alice@example.com", "idp", "oidc", "Alice", ("eng",))
    session = issue(
        ring,
        type=TokenType.APP,
        issuer=urls.origin("acme.localhost"),
        audience=app.aud,
        now=now,
        lifetime=dt.timedelta(hours=1),
        identity=who,
    )
    public_pem = jwt.algorithms.RSAAlgorithm.to_jwk(ring.public_keys[key.kid])
    return AccessGate(urls), snap, session, public_pem


def per_call_us(fn: Callable[[], object], seconds: float) -> float:
    """Median over rounds of the mean time per call."""
    fn()
    rounds: list[float] = []
    deadline = time.perf_counter() + seconds
    batch = 200
    while time.perf_counter() < deadline or len(rounds) < 3:
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        rounds.append((time.perf_counter() - start) / batch * 1e6)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0, help="time per case")
    args = parser.parse_args()
    gate, snap, session, jwk = build()
    public = jwt.PyJWK.from_json(jwk).key
    aud = snap.access.apps[0].aud
    browser = [(b"accept", b"text/html"), (b"user-agent", b"bench")]
    with_cookie = [*browser, (b"cookie", f"_ga=1; CF_Authorization={session}".encode())]
    service = [(b"cf-access-client-id", b"cid.access"), (b"cf-access-client-secret", b"s3cret")]

    def check(host: str, headers: list[tuple[bytes, bytes]]) -> object:
        return gate.check(host, "/page?x=1", "GET", headers, "198.51.100.7", snap)

    assert isinstance(check("wiki.acme.localhost", with_cookie), Forward)
    assert isinstance(check("wiki.acme.localhost", service), Forward)
    assert isinstance(check("wiki.acme.localhost", browser), Respond)

    def anchor() -> object:
        return jwt.decode(session, public, algorithms=["RS256"], audience=aud)

    s = args.seconds
    floor = per_call_us(anchor, s)
    cases = {
        "unprotected host": per_call_us(lambda: check("other.example", browser), s),
        "session cookie (allow)": per_call_us(lambda: check("wiki.acme.localhost", with_cookie), s),
        "service token": per_call_us(lambda: check("wiki.acme.localhost", service), s),
        "no session (redirect)": per_call_us(lambda: check("wiki.acme.localhost", browser), s),
    }
    print(f"anchor  PyJWT RS256 decode alone: {floor:8.1f} us/request")
    for name, value in cases.items():
        print(f"gate    {name:<24}: {value:8.1f} us/request  ({value / floor:.2f}x the anchor)")
    print(f"session-cookie requests per core: {1e6 / cases['session cookie (allow)']:,.0f}/s")


if __name__ == "__main__":
    main()
