"""/api/v1/proxy through HTTP on SQLite and PostgreSQL: endpoints, PAC files, tokens, log."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re

from api.conftest import Api, api  # noqa: F401  (the API fixture of tests/api)
from ramparts import secrets
from ramparts.config.proxy import EndpointKind
from ramparts.config.snapshot import build_snapshot
from ramparts.proxy.pac import MAX_PAC_BYTES, PAC_CONTENT_TYPE
from ramparts.store.models import AuditEvent, IdentityProvider, ProxyToken
from ramparts.store.repositories import edges, proxy_listeners, proxy_requests, versions

CUSTOM_PAC = 'function FindProxyForURL(url, host) { return "PROXY 192.0.2.1:3128"; }\n'


def _create(client: Api, **body: object) -> dict[str, object]:
    response = client.client.post("/api/v1/proxy/endpoints", json=body, headers=client.auth)
    assert response.status_code == 201, response.text
    out: dict[str, object] = response.json()
    return out


def _field(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    return str(body["error"]["fields"][0]["field"])


def _version(client: Api) -> int:
    with client.plane.db.session() as s:
        return versions.current(s)


def _announce(client: Api) -> None:
    with client.plane.db.transaction() as s:
        edges.heartbeat(s, edge_id="e1", name="edge", tunnel_address="", snapshot_version=1)
        proxy_listeners.record(s, "e1", {"proxy": "127.0.0.1:7846", "proxy_tls": "127.0.0.1:7847"})


def _audit(client: Api) -> list[AuditEvent]:
    with client.plane.db.session() as s:
        return list(s.query(AuditEvent).order_by(AuditEvent.id).all())


def test_endpoint_create_list_get_and_snapshot(api: Api) -> None:  # noqa: F811
    before = _version(api)
    body = _create(api, name="office", kind="source_ip", networks=["192.0.2.7/24", "2001:db8::1"])
    endpoint_id = str(body["id"])
    assert re.fullmatch(r"[0-9a-f]{10}", endpoint_id)
    assert body["networks"] == ["192.0.2.0/24", "2001:db8::1/128"]
    assert body["connect_ports"] == [443] and body["allow_private_destinations"] is False
    assert body["pac_url"] is None and body["proxy"] is None  # no edge announced yet
    assert _version(api) > before
    _announce(api)
    for ref in ("office", endpoint_id):
        got = api.client.get(f"/api/v1/proxy/endpoints/{ref}", headers=api.auth).json()
        assert got["id"] == endpoint_id
        assert got["pac_url"] == f"http://127.0.0.1:7846/pac/{endpoint_id}.pac"
        assert (got["proxy"], got["proxy_tls"]) == ("127.0.0.1:7846", "127.0.0.1:7847")
    _create(api, name="roaming", kind="authorization", connect_ports=[443, 8443, 443])
    listed = api.client.get("/api/v1/proxy/endpoints", headers=api.auth).json()
    assert [e["name"] for e in listed] == ["office", "roaming"]
    assert listed[1]["connect_ports"] == [443, 8443]
    page = api.client.get("/api/v1/proxy/endpoints?limit=1", headers=api.auth)
    nxt = page.headers["x-next-cursor"]
    rest = api.client.get(f"/api/v1/proxy/endpoints?limit=1&cursor={nxt}", headers=api.auth)
    assert [e["name"] for e in page.json() + rest.json()] == ["office", "roaming"]
    assert "proxy.endpoint.create" in [e.action for e in _audit(api)]
    snapshot = build_snapshot(api.plane.db)
    office = snapshot.proxy.endpoints[endpoint_id]
    assert office.kind is EndpointKind.SOURCE_IP
    assert snapshot.proxy.endpoint_for_source(ipaddress.ip_address("192.0.2.99")) == office
    assert [e.name for e in snapshot.proxy.authorization_endpoints()] == ["roaming"]


def test_endpoint_validation_conflicts_and_not_found(api: Api) -> None:  # noqa: F811
    url = "/api/v1/proxy/endpoints"
    ports = "connect_ports"
    cases = [
        ({"name": "a", "kind": "source_ip"}, "networks"),
        ({"name": "a", "kind": "authorization", "networks": ["10.0.0.0/8"]}, "networks"),
        ({"name": "a", "kind": "source_ip", "networks": ["10.0.0.300/8"]}, "networks"),
        ({"name": "a", "kind": "source_ip", "networks": ["::/0"], ports: [0]}, ports),
        ({"name": "a", "kind": "source_ip", "networks": ["::/0"], ports: [70000]}, ports),
        ({"name": "a", "kind": "sideways", "networks": ["::/0"]}, "kind"),
        ({"name": "a b", "kind": "authorization"}, "name"),
        ({"name": "a", "kind": "authorization", "colour": "red"}, "colour"),
        ({"name": "a", "kind": "authorization", "pac": "return 1"}, "pac"),
        ({"name": "a", "kind": "authorization", ports: list(range(1, 70))}, ports),
    ]  # fmt: skip
    for body, field in cases:
        response = api.client.post(url, json=body, headers=api.auth)
        assert response.status_code == 422, (body, response.text)
        assert _field(response) == field, (body, response.text)
    _create(api, name="office", kind="source_ip", networks=["10.0.0.0/8"])
    dup = api.client.post(url, json={"name": "office", "kind": "authorization"}, headers=api.auth)
    assert dup.status_code == 409 and _field(dup) == "name"
    taken = api.client.post(
        url, json={"name": "lab", "kind": "source_ip", "networks": ["10.0.0.0/8"]},
        headers=api.auth,
    )  # fmt: skip
    assert taken.status_code == 409 and _field(taken) == "network"
    for method in ("GET", "PATCH", "DELETE"):
        kwargs: dict[str, object] = {"json": {}} if method == "PATCH" else {}
        missing = api.client.request(method, f"{url}/nope", headers=api.auth, **kwargs)  # type: ignore[arg-type]
        assert missing.status_code == 404, method
    assert api.client.get(url).status_code == 401


def test_endpoint_update_keeps_the_kind(api: Api) -> None:  # noqa: F811
    endpoint = _create(api, name="office", kind="source_ip", networks=["10.0.0.0/8"])
    _create(api, name="lab", kind="source_ip", networks=["10.9.0.0/16"])
    url = f"/api/v1/proxy/endpoints/{endpoint['id']}"
    before = _version(api)
    changed = api.client.patch(
        url,
        json={"name": "hq", "networks": ["10.0.0.0/8", "fd00::/8"], "connect_ports": [443, 22],
              "allow_private_destinations": True, "tls_inspection": True, "kind": "source_ip"},
        headers=api.auth,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    out = changed.json()
    assert (out["name"], out["networks"], out["connect_ports"]) == (
        "hq",
        ["10.0.0.0/8", "fd00::/8"],
        [22, 443],
    )
    assert out["allow_private_destinations"] and out["tls_inspection"]
    assert _version(api) > before
    kind = api.client.patch(url, json={"kind": "authorization"}, headers=api.auth)
    assert kind.status_code == 422 and _field(kind) == "kind"
    empty = api.client.patch(url, json={"networks": []}, headers=api.auth)
    assert empty.status_code == 422 and _field(empty) == "networks"
    clash = api.client.patch(url, json={"name": "lab"}, headers=api.auth)
    assert clash.status_code == 409 and _field(clash) == "name"
    net = api.client.patch(url, json={"networks": ["10.9.0.0/16"]}, headers=api.auth)
    assert net.status_code == 409 and _field(net) == "network"
    got = api.client.get(url, headers=api.auth).json()
    assert got["name"] == "hq" and got["kind"] == "source_ip"  # failed changes left nothing
    assert api.client.delete(url, headers=api.auth).status_code == 204
    assert api.client.get(url, headers=api.auth).status_code == 404
    assert [e.action for e in _audit(api)][-2:] == [
        "proxy.endpoint.update",
        "proxy.endpoint.delete",
    ]


def test_pac_generated_custom_and_reset(api: Api) -> None:  # noqa: F811
    endpoint = _create(api, name="office", kind="source_ip", networks=["10.0.0.0/8"])
    url = f"/api/v1/proxy/endpoints/{endpoint['id']}/pac"
    assert api.client.get(url, headers=api.auth).status_code == 409  # no proxy address yet
    _announce(api)
    with api.plane.db.transaction() as s:
        s.add(
            IdentityProvider(
                name="sso", type="oidc", config={"issuer": "https://sso.example.org/realm"}
            )
        )
    generated = api.client.get(url, headers=api.auth)
    assert generated.status_code == 200
    assert generated.headers["content-type"].startswith(PAC_CONTENT_TYPE)
    text = generated.text
    assert "FindProxyForURL" in text and '"HTTPS 127.0.0.1:7847; PROXY 127.0.0.1:7846"' in text
    assert '"acme.localhost"' in text and '"sso.example.org"' in text
    put = api.client.put(
        url, content=CUSTOM_PAC, headers={**api.auth, "Content-Type": "text/plain"}
    )
    assert put.status_code == 200, put.text
    assert put.json()["custom_pac"] is True
    assert api.client.get(url, headers=api.auth).text == CUSTOM_PAC
    as_json = api.client.put(url, json={"pac": CUSTOM_PAC + "// v2\n"}, headers=api.auth)
    assert as_json.status_code == 200
    assert api.client.get(url, headers=api.auth).text.endswith("// v2\n")
    snapshot = build_snapshot(api.plane.db)
    assert snapshot.proxy.endpoints[str(endpoint["id"])].pac.endswith("// v2\n")
    bad = [
        ("function main() {}", "text/plain"),
        ("x" * (MAX_PAC_BYTES + 1) + "FindProxyForURL", "text/plain"),
        (json.dumps({"pac": 5}), "application/json"),
        (json.dumps({"text": CUSTOM_PAC}), "application/json"),
        ("{not json", "application/json"),
    ]
    for content, ctype in bad:
        response = api.client.put(url, content=content, headers={**api.auth, "Content-Type": ctype})
        assert response.status_code == 422, (content[:30], response.text)
    plain = {**api.auth, "Content-Type": "text/plain"}
    latin = api.client.put(url, content=b"\xff" + CUSTOM_PAC.encode(), headers=plain)
    assert latin.status_code == 422 and _field(latin) == "pac"
    assert api.client.delete(url, headers=api.auth).status_code == 204
    assert api.client.get(url, headers=api.auth).text == text
    actions = [e.action for e in _audit(api)]
    assert actions.count("proxy.pac.set") == 2 and actions[-1] == "proxy.pac.reset"
    assert all("FindProxyForURL" not in json.dumps(e.details) for e in _audit(api))


def test_tokens_shown_once_stored_as_digest_never_audited(api: Api) -> None:  # noqa: F811
    office = _create(api, name="office", kind="source_ip", networks=["10.0.0.0/8"])
    roaming = _create(api, name="roaming", kind="authorization")
    refused = api.client.post(
        f"/api/v1/proxy/endpoints/{office['id']}/tokens",
        json={"email": "a@example.com"},
        headers=api.auth,
    )
    assert refused.status_code == 409 and _field(refused) == "kind"
    url = "/api/v1/proxy/endpoints/roaming/tokens"
    for body, field in (
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@example.com", "expires_in_days": 0}, "expires_in_days"),
        ({"email": "a@example.com", "secret": "mine"}, "secret"),
    ):
        response = api.client.post(url, json=body, headers=api.auth)
        assert response.status_code == 422 and _field(response) == field, response.text
    created = api.client.post(
        url,
        json={"email": "Alice@Example.com", "name": "laptop", "expires_in_days": 30},
        headers=api.auth,
    )
    assert created.status_code == 201, created.text
    token = created.json()
    secret = token["secret"]
    assert secret.startswith("rpx_") and token["email"] == "alice@example.com"
    expires = dt.datetime.fromisoformat(token["expires_at"])
    assert dt.timedelta(days=29) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=30)
    listed = api.client.get(url, headers=api.auth).json()
    assert [t["id"] for t in listed] == [token["id"]] and "secret" not in listed[0]
    with api.plane.db.session() as s:
        stored = s.get(ProxyToken, token["id"])
        assert stored is not None and stored.digest == secrets.digest(secret)
    snapshot = build_snapshot(api.plane.db)
    entry = snapshot.proxy.tokens[secrets.digest(secret)]
    assert (entry.email, entry.endpoint_id) == ("alice@example.com", roaming["id"])
    assert entry.expires_at == expires.timestamp()
    dumped = json.dumps([e.details for e in _audit(api)])
    assert secret not in dumped and secrets.digest(secret) not in dumped
    assert "proxy.token.create" in [e.action for e in _audit(api)]
    revoke = f"/api/v1/proxy/tokens/{token['id']}"
    assert api.client.delete(revoke, headers=api.auth).status_code == 204
    assert api.client.delete(revoke, headers=api.auth).status_code == 404
    assert build_snapshot(api.plane.db).proxy.tokens == {}
    assert api.client.get(url, headers=api.auth).json() == []


def test_request_log_filters_and_pages(api: Api) -> None:  # noqa: F811
    t0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
    rows = [
        {"at": t0 + dt.timedelta(seconds=i), "endpoint_id": "abcdefghij",
         "endpoint_name": "office", "src_ip": "10.0.0.5", "kind": "http", "method": "GET",
         "host": f"h{i}.example.com", "url": f"http://h{i}.example.com/", "decision": decision,
         "status": 200 if decision == "allow" else 403, "bytes_up": 10, "bytes_down": 20,
         "duration_us": 1500, "user_email": "bob@example.com" if i % 2 else ""}
        for i, decision in enumerate(["allow", "block", "allow", "deny", "auth"])
    ]  # fmt: skip
    with api.plane.db.transaction() as s:
        proxy_requests.insert_batch(s, rows)
    log = "/api/v1/proxy/log"
    everything = api.client.get(log, headers=api.auth).json()
    assert [r["host"] for r in everything] == [f"h{i}.example.com" for i in (4, 3, 2, 1, 0)]
    first = everything[-1]
    assert (first["endpoint"], first["user"], first["duration_ms"], first["status"]) == (
        "office",
        "",
        1.5,
        200,
    )
    blocked = api.client.get(f"{log}?blocked=true", headers=api.auth).json()
    assert [r["decision"] for r in blocked] == ["deny", "block"]
    bob = api.client.get(f"{log}?user=bob@example.com", headers=api.auth).json()
    assert [r["host"] for r in bob] == ["h3.example.com", "h1.example.com"]
    assert (
        len(api.client.get(f"{log}?endpoint=office&host=example.com", headers=api.auth).json()) == 5
    )
    assert api.client.get(f"{log}?endpoint=lab", headers=api.auth).json() == []
    assert len(api.client.get(f"{log}?decision=auth", headers=api.auth).json()) == 1
    page = api.client.get(f"{log}?limit=2", headers=api.auth)
    nxt = page.headers["x-next-cursor"]
    second = api.client.get(f"{log}?limit=2&cursor={nxt}", headers=api.auth).json()
    assert [r["id"] for r in page.json() + second] == [r["id"] for r in everything[:4]]
    bad = api.client.get(f"{log}?cursor=zzz", headers=api.auth)
    assert bad.status_code == 422 and _field(bad) == "cursor"
    assert api.client.get(f"{log}?decision=maybe", headers=api.auth).status_code == 422
