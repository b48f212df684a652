"""The tunnels resource through HTTP: auth, CRUD, tokens, errors, pagination, audit."""

from __future__ import annotations

import base64
import json

from ramparts import secrets
from ramparts.store.models import TunnelCredential
from ramparts.tunnel.token import ConnectorToken

from .conftest import Api


def test_requires_a_valid_bearer_token(api: Api) -> None:
    assert api.client.get("/api/v1/tunnels").status_code == 401
    bad = api.client.get("/api/v1/tunnels", headers={"Authorization": "Bearer rpt_nope"})
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "unauthorized"
    assert "Bearer" in bad.headers["www-authenticate"]
    huge = api.client.get("/api/v1/tunnels", headers={"Authorization": "Bearer " + "x" * 5000})
    assert huge.status_code == 401


def test_empty_list_is_an_array(api: Api) -> None:
    response = api.client.get("/api/v1/tunnels", headers=api.auth)
    assert response.status_code == 200
    assert response.json() == []


def test_create_returns_a_working_connector_token(api: Api) -> None:
    response = api.client.post("/api/v1/tunnels", json={"name": "demo"}, headers=api.auth)
    assert response.status_code == 201, response.text
    body = response.json()
    token = ConnectorToken.decode(body["token"])
    assert token.tunnel_id == body["id"]
    assert token.edge_addresses == ("127.0.0.1:7844",)
    assert token.ca_fingerprint == api.plane.team.ca_fingerprint
    raw = json.loads(base64.b64decode(body["token"]))
    assert set(raw) == {"v", "t", "s", "e", "ca", "d", "cac"}
    with api.plane.db.session() as s:
        stored = s.query(TunnelCredential).filter_by(tunnel_id=body["id"]).one()
    assert stored.secret_hash == secrets.digest(token.secret)
    got = api.client.get("/api/v1/tunnels/demo", headers=api.auth).json()
    assert "token" not in got and got["id"] == body["id"] and got["credentials"] == 1


def test_conflict_and_not_found(api: Api) -> None:
    api.client.post("/api/v1/tunnels", json={"name": "demo"}, headers=api.auth)
    again = api.client.post("/api/v1/tunnels", json={"name": "demo"}, headers=api.auth)
    assert again.status_code == 409
    assert again.json()["error"]["fields"][0]["field"] == "name"
    for method, path in [
        ("GET", "/api/v1/tunnels/missing"),
        ("DELETE", "/api/v1/tunnels/missing"),
        ("POST", "/api/v1/tunnels/missing/rotate"),
    ]:
        response = api.client.request(method, path, headers=api.auth)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "not_found"


def test_validation_errors_name_the_field(api: Api) -> None:
    cases = [
        ({"name": ""}, "name"),
        ({"name": "has space"}, "name"),
        ({"name": 42}, "name"),
        ({}, "name"),
        ({"name": "ok", "extra": 1}, "extra"),
    ]
    for body, field in cases:
        response = api.client.post("/api/v1/tunnels", json=body, headers=api.auth)
        assert response.status_code == 422, body
        fields = [f["field"] for f in response.json()["error"]["fields"]]
        assert field in fields, (body, fields)


def test_malformed_json_and_huge_bodies(api: Api) -> None:
    headers = {**api.auth, "Content-Type": "application/json"}
    response = api.client.post("/api/v1/tunnels", content=b"{not json", headers=headers)
    assert response.status_code == 422
    response = api.client.post("/api/v1/tunnels", content=b"[" * 2_000_000, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_rotate_revokes_and_token_adds(api: Api) -> None:
    first = api.client.post("/api/v1/tunnels", json={"name": "demo"}, headers=api.auth).json()
    second = api.client.post("/api/v1/tunnels/demo/token", headers=api.auth).json()
    assert api.client.get("/api/v1/tunnels/demo", headers=api.auth).json()["credentials"] == 2
    rotated = api.client.post("/api/v1/tunnels/demo/rotate", headers=api.auth).json()
    assert api.client.get("/api/v1/tunnels/demo", headers=api.auth).json()["credentials"] == 1
    secrets_seen = {ConnectorToken.decode(x["token"]).secret for x in (first, second, rotated)}
    assert len(secrets_seen) == 3


def test_delete(api: Api) -> None:
    api.client.post("/api/v1/tunnels", json={"name": "demo"}, headers=api.auth)
    assert api.client.delete("/api/v1/tunnels/demo", headers=api.auth).status_code == 204
    assert api.client.get("/api/v1/tunnels/demo", headers=api.auth).status_code == 404


def test_pagination_with_link_header(api: Api) -> None:
    for i in range(5):
        api.client.post("/api/v1/tunnels", json={"name": f"t{i}"}, headers=api.auth)
    names: list[str] = []
    url = "/api/v1/tunnels?limit=2"
    pages = 0
    while url:
        response = api.client.get(url, headers=api.auth)
        assert response.status_code == 200
        names.extend(t["name"] for t in response.json())
        pages += 1
        cursor = response.headers.get("x-next-cursor")
        url = f"/api/v1/tunnels?limit=2&cursor={cursor}" if cursor else ""
        if cursor:
            assert 'rel="next"' in response.headers["link"]
    assert pages == 3
    assert sorted(names) == [f"t{i}" for i in range(5)]
    bad = api.client.get("/api/v1/tunnels?cursor=!!!", headers=api.auth)
    assert bad.status_code == 422
    too_big = api.client.get("/api/v1/tunnels?limit=100000", headers=api.auth)
    assert too_big.status_code == 422
    assert too_big.json()["error"]["fields"][0]["field"] == "limit"


def test_every_change_is_audited_without_secrets(api: Api) -> None:
    created = api.client.post("/api/v1/tunnels", json={"name": "demo"}, headers=api.auth).json()
    api.client.post("/api/v1/tunnels/demo/rotate", headers=api.auth)
    api.client.delete("/api/v1/tunnels/demo", headers=api.auth)
    events = api.client.get("/api/v1/audit", headers=api.auth).json()
    assert [e["action"] for e in events] == ["tunnel.delete", "tunnel.rotate", "tunnel.create"]
    assert {e["actor"] for e in events} == {"token:admin"}
    assert {e["resource_id"] for e in events} == {created["id"]}
    secret = ConnectorToken.decode(created["token"]).secret
    assert secret not in json.dumps(events)


def test_changes_bump_the_config_version(api: Api) -> None:
    before = api.client.get("/api/v1/status", headers=api.auth).json()["config_version"]
    api.client.post("/api/v1/tunnels", json={"name": "demo"}, headers=api.auth)
    after = api.client.get("/api/v1/status", headers=api.auth).json()["config_version"]
    assert after == before + 1


def test_openapi_lists_the_resources(api: Api) -> None:
    spec = api.client.get("/api/v1/openapi.json").json()
    assert "/api/v1/tunnels" in spec["paths"]
    assert "/api/v1/tunnels/{ref}/rotate" in spec["paths"]


def test_hostname_routes(api: Api) -> None:
    api.client.post("/api/v1/tunnels", json={"name": "demo"}, headers=api.auth)
    added = api.client.post(
        "/api/v1/tunnels/demo/hostnames", json={"hostname": "App.Acme.localhost"}, headers=api.auth
    )
    assert added.status_code == 201 and added.json()["hostname"] == "app.acme.localhost"
    wild = api.client.post(
        "/api/v1/tunnels/demo/hostnames",
        json={"hostname": "*.apps.acme.localhost"},
        headers=api.auth,
    )
    assert wild.status_code == 201
    dup = api.client.post(
        "/api/v1/tunnels/demo/hostnames", json={"hostname": "app.acme.localhost"}, headers=api.auth
    )
    assert dup.status_code == 409
    for bad in ["", "a..b", "-x.y", "x.*.y", "a b", "x" * 300]:
        response = api.client.post(
            "/api/v1/tunnels/demo/hostnames", json={"hostname": bad}, headers=api.auth
        )
        assert response.status_code == 422, bad
        assert response.json()["error"]["fields"][0]["field"] == "hostname"
    listed = api.client.get("/api/v1/tunnels/demo/hostnames", headers=api.auth).json()
    assert [h["hostname"] for h in listed] == ["*.apps.acme.localhost", "app.acme.localhost"]
    gone = api.client.delete("/api/v1/tunnels/demo/hostnames/app.acme.localhost", headers=api.auth)
    assert gone.status_code == 204
    missing = api.client.delete("/api/v1/tunnels/demo/hostnames/nope.localhost", headers=api.auth)
    assert missing.status_code == 404
    assert api.client.get("/api/v1/tunnels/demo/connections", headers=api.auth).json() == []


def test_snapshot_routes_hosts_exact_then_longest_wildcard(api: Api) -> None:
    from ramparts.config.snapshot import build_snapshot

    for name in ("a", "b", "c"):
        api.client.post("/api/v1/tunnels", json={"name": name}, headers=api.auth)
    for tunnel, host in [
        ("a", "*.acme.localhost"),
        ("b", "*.x.acme.localhost"),
        ("c", "y.x.acme.localhost"),
    ]:
        api.client.post(
            f"/api/v1/tunnels/{tunnel}/hostnames", json={"hostname": host}, headers=api.auth
        )
    ids = {t["name"]: t["id"] for t in api.client.get("/api/v1/tunnels", headers=api.auth).json()}
    snap = build_snapshot(api.plane.db)
    assert snap.tunnel_for_host("y.x.acme.localhost") == ids["c"]
    assert snap.tunnel_for_host("z.x.acme.localhost") == ids["b"]
    assert snap.tunnel_for_host("deep.z.x.acme.localhost") == ids["b"]
    assert snap.tunnel_for_host("q.acme.localhost") == ids["a"]
    assert snap.tunnel_for_host("acme.localhost") is None
    assert snap.tunnel_for_host("other.localhost") is None
