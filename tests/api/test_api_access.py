"""/api/v1/access and /api/v1/identity: validation naming the field, 404/409, secrets shown
once, audit entries, and the snapshot the edge gets."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramparts.config.access_rules import Action
from ramparts.config.snapshot import build_snapshot


def test_app_and_policy_lifecycle(api: Any) -> None:
    c, auth = api.client, api.auth
    r = c.post(
        "/api/v1/access/apps",
        json={"name": "wiki", "domain": "Wiki.Acme.localhost", "path": "/Docs/"},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    app = r.json()
    assert app["domain"] == "wiki.acme.localhost" and app["path"] == "/docs"
    assert len(app["aud"]) == 64
    r = c.post(
        "/api/v1/access/apps/wiki/policies",
        json={
            "name": "eng",
            "action": "allow",
            "include": ["email=a@example.com", "group=eng"],
            "require": ["ip=10.0.0.0/8"],
        },
        headers=auth,
    )
    assert r.status_code == 201, r.text
    assert r.json()["precedence"] == 10
    r = c.post(
        "/api/v1/access/apps/wiki/policies",
        json={"name": "ci", "action": "service_auth", "include": ["any_service_token"]},
        headers=auth,
    )
    assert r.status_code == 201
    listed = c.get("/api/v1/access/apps/wiki/policies", headers=auth).json()
    assert [p["name"] for p in listed] == ["eng", "ci"]
    snap = build_snapshot(api.plane.db)
    found = snap.access.app_for("wiki.acme.localhost", "/docs/x")
    assert found is not None and [p.action for p in found.policies] == [
        Action.ALLOW,
        Action.SERVICE_AUTH,
    ]
    assert snap.access.keys.signing is not None  # created with the first application
    r = c.patch("/api/v1/access/apps/wiki/policies/eng", json={"action": "bypass"}, headers=auth)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "include.0"
    r = c.patch("/api/v1/access/apps/wiki/policies/eng", json={"precedence": 5}, headers=auth)
    assert r.status_code == 200 and r.json()["precedence"] == 5
    assert c.delete("/api/v1/access/apps/wiki/policies/eng", headers=auth).status_code == 204
    assert c.delete("/api/v1/access/apps/wiki", headers=auth).status_code == 204
    assert c.get("/api/v1/access/apps/wiki", headers=auth).status_code == 404
    actions = [e["action"] for e in c.get("/api/v1/audit", headers=auth).json()]
    assert "access.app.create" in actions and "access.policy.delete" in actions


def test_validation_names_the_field(api: Any) -> None:
    c, auth = api.client, api.auth
    assert (
        c.post(
            "/api/v1/access/apps", json={"name": "a", "domain": "a.example"}, headers=auth
        ).status_code
        == 201
    )
    cases = [
        ({"name": "b", "domain": "bad domain"}, "domain"),
        ({"name": "b", "domain": "ACME.localhost"}, "domain"),  # the team domain
        ({"name": "b", "domain": "b.example", "path": "no-slash"}, "path"),
        ({"name": "b", "domain": "b.example", "session_seconds": 10}, "session_seconds"),
        ({"name": "b", "domain": "b.example", "allowed_idps": ["nope"]}, "allowed_idps.0"),
        ({"name": "b", "domain": "b.example", "extra": 1}, "extra"),
    ]
    for body, field in cases:
        r = c.post("/api/v1/access/apps", json=body, headers=auth)
        assert r.status_code == 422, body
        assert r.json()["error"]["fields"][0]["field"] == field, r.json()
    r = c.post("/api/v1/access/apps", json={"name": "a", "domain": "c.example"}, headers=auth)
    assert r.status_code == 409 and r.json()["error"]["fields"][0]["field"] == "name"
    r = c.post("/api/v1/access/apps", json={"name": "z", "domain": "a.example"}, headers=auth)
    assert r.status_code == 409 and r.json()["error"]["fields"][0]["field"] == "domain"
    policy_cases = [
        ({"name": "p", "action": "allow", "include": []}, "include"),
        ({"name": "p", "action": "allow", "include": ["email=nope"]}, "include.0"),
        (
            {"name": "p", "action": "bypass", "include": ["everyone"], "exclude": ["group=x"]},
            "exclude.0",
        ),
        ({"name": "p", "action": "maybe", "include": ["everyone"]}, "action"),
    ]
    for body, field in policy_cases:
        r = c.post("/api/v1/access/apps/a/policies", json=body, headers=auth)
        assert r.status_code == 422, body
        assert r.json()["error"]["fields"][0]["field"] == field, r.json()
    assert (
        c.post(
            "/api/v1/access/apps/nope/policies",
            json={"name": "p", "action": "allow", "include": ["everyone"]},
            headers=auth,
        ).status_code
        == 404
    )


def test_service_token_secret_shown_once(api: Any) -> None:
    c, auth = api.client, api.auth
    r = c.post(
        "/api/v1/access/service-tokens", json={"name": "ci", "duration_days": 30}, headers=auth
    )
    assert r.status_code == 201
    token = r.json()
    assert token["client_id"].endswith(".access") and token["client_secret"].startswith("rps_")
    assert token["expires_at"] is not None
    listed = c.get("/api/v1/access/service-tokens", headers=auth).json()
    assert "client_secret" not in listed[0]
    assert token["client_secret"] not in c.get("/api/v1/audit", headers=auth).text
    rotated = c.post("/api/v1/access/service-tokens/ci/rotate", headers=auth).json()
    assert rotated["client_id"] == token["client_id"]
    assert rotated["client_secret"] != token["client_secret"]
    snap = build_snapshot(api.plane.db)
    entry = snap.access.service_tokens[token["client_id"]]
    from ramparts import secrets

    assert secrets.matches(rotated["client_secret"], entry.secret_digest)
    assert (
        c.post("/api/v1/access/service-tokens", json={"name": "ci"}, headers=auth).status_code
        == 409
    )
    assert c.delete("/api/v1/access/service-tokens/ci", headers=auth).status_code == 204


def test_idps_groups_users_keys(api: Any) -> None:
    c, auth = api.client, api.auth
    r = c.post(
        "/api/v1/identity/idps",
        json={
            "name": "okta",
            "type": "oidc",
            "config": {"issuer": "http://evil.example", "client_id": "x"},
        },
        headers=auth,
    )
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "config"
    r = c.post(
        "/api/v1/identity/idps",
        json={
            "name": "okta",
            "type": "oidc",
            "config": {"issuer": "https://idp.example", "client_id": "ramparts"},
            "secret": "very-secret",
        },
        headers=auth,
    )
    assert r.status_code == 201 and r.json()["has_secret"] is True
    assert "very-secret" not in c.get("/api/v1/identity/idps", headers=auth).text
    assert r.json()["redirect_uri"].endswith("/cdn-cgi/access/callback")
    r = c.post(
        "/api/v1/identity/idps",
        json={"name": "pin", "type": "otp", "config": {"smtp_host": "mail", "from": "a@b.c"}},
        headers=auth,
    )
    assert r.status_code == 201
    r = c.patch("/api/v1/identity/idps/pin", json={"config": {"smtp_host": ""}}, headers=auth)
    assert r.status_code == 422
    cleartext = {"smtp_host": "mail.example.com", "smtp_security": "none", "from": "a@b.c"}
    r = c.patch("/api/v1/identity/idps/pin", json={"config": cleartext}, headers=auth)
    assert r.status_code == 422 and "loopback" in r.json()["error"]["message"]
    r = c.patch("/api/v1/identity/idps/pin", json={"enabled": False}, headers=auth)
    assert r.status_code == 200 and r.json()["enabled"] is False
    r = c.post(
        "/api/v1/identity/groups",
        json={"name": "eng", "members": ["A@example.com", "b@example.com"]},
        headers=auth,
    )
    assert r.status_code == 201 and r.json()["members"] == ["a@example.com", "b@example.com"]
    r = c.put(
        "/api/v1/identity/groups/eng/members", json={"members": ["c@example.com"]}, headers=auth
    )
    assert r.json()["members"] == ["c@example.com"]
    snap = build_snapshot(api.plane.db)
    assert snap.access.group_members == {"c@example.com": frozenset({"eng"})}
    assert [i.name for i in snap.access.idps] == ["okta"]  # pin is disabled
    assert c.get("/api/v1/identity/users", headers=auth).json() == []
    assert (
        c.post(
            "/api/v1/identity/users/nobody@example.com/revoke-sessions", headers=auth
        ).status_code
        == 404
    )
    assert c.get("/api/v1/access/keys", headers=auth).json() == []
    first = c.post("/api/v1/access/keys/rotate", headers=auth).json()
    second = c.post("/api/v1/access/keys/rotate", headers=auth).json()
    keys = c.get("/api/v1/access/keys", headers=auth).json()
    assert [k["signing"] for k in keys] == [False, True]
    assert {k["kid"] for k in keys} == {first["kid"], second["kid"]}
    assert c.get("/api/v1/access/keys").status_code == 401


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.fixed_dictionaries(
        {
            "name": st.text(max_size=10),
            "action": st.sampled_from(["allow", "block", "bypass", "service_auth", "x"]),
            "include": st.lists(st.text(max_size=30), max_size=3),
        },
        optional={"require": st.lists(st.text(max_size=30), max_size=2)},
    )
)
def test_fuzz_policy_bodies(api: Any, body: dict[str, Any]) -> None:
    c, auth = api.client, api.auth
    if c.get("/api/v1/access/apps/fz", headers=auth).status_code == 404:
        c.post("/api/v1/access/apps", json={"name": "fz", "domain": "fz.example"}, headers=auth)
    r = c.post("/api/v1/access/apps/fz/policies", json=body, headers=auth)
    assert r.status_code in (201, 409, 422), r.text
    if r.status_code == 201:
        c.delete(f"/api/v1/access/apps/fz/policies/{r.json()['id']}", headers=auth)
