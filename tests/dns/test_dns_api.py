"""/api/v1/dns through HTTP on SQLite and PostgreSQL: locations, upstreams, settings, query log."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re

from ramparts.config.dns import Unmatched, UpstreamKind
from ramparts.config.snapshot import build_snapshot
from ramparts.store.models import AuditEvent
from ramparts.store.repositories import dns as dns_repo
from ramparts.store.repositories import dns_queries, edges

from .conftest import DnsApi


def _create(api: DnsApi, name: str, networks: list[str], **extra: object) -> dict[str, object]:
    response = api.client.post(
        "/api/v1/dns/locations",
        json={"name": name, "networks": networks, **extra},
        headers=api.auth,
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_location_create_prints_client_settings(dns_api: DnsApi) -> None:
    with dns_api.plane.db.transaction() as s:
        edges.heartbeat(s, edge_id="e1", name="edge", tunnel_address="", snapshot_version=1)
        dns_repo.announce_endpoints(
            s,
            "e1",
            {"dns_udp": "127.0.0.1:7853", "dns_tcp": "127.0.0.1:7853", "dot": "127.0.0.1:7854",
             "doh": "127.0.0.1:7855"},
        )  # fmt: skip
    body = _create(dns_api, "office", ["192.0.2.7/24", "2001:db8::1"])
    loc_id = str(body["id"])
    assert re.fullmatch(r"[0-9a-f]{10}", loc_id)
    assert body["networks"] == ["192.0.2.0/24", "2001:db8::1/128"]  # host bits cleared
    client = body["client"]
    assert isinstance(client, dict)
    assert client["dns"] == ["127.0.0.1:7853"]
    assert client["dot_hostname"] == f"{loc_id}.dns.acme.localhost"
    assert client["dot"] == ["127.0.0.1:7854"]
    assert client["doh"] == [
        f"https://{loc_id}.dns.acme.localhost:7855/dns-query",
        f"https://dns.acme.localhost:7855/dns-query/{loc_id}",
    ]
    # Listed, fetched by name and by id, audited, in the snapshot.
    listed = dns_api.client.get("/api/v1/dns/locations", headers=dns_api.auth).json()
    assert [loc["name"] for loc in listed] == ["office"]
    for ref in ("office", loc_id):
        got = dns_api.client.get(f"/api/v1/dns/locations/{ref}", headers=dns_api.auth)
        assert got.json()["id"] == loc_id
    with dns_api.plane.db.session() as s:
        actions = [e.action for e in s.query(AuditEvent).all()]
    assert "dns.location.create" in actions
    snapshot = build_snapshot(dns_api.plane.db)
    (entry,) = snapshot.dns.locations
    assert entry.id == loc_id and entry.name == "office"
    assert entry.networks == (
        ipaddress.ip_network("192.0.2.0/24"),
        ipaddress.ip_network("2001:db8::1/128"),
    )


def test_location_conflicts_and_validation(dns_api: DnsApi) -> None:
    _create(dns_api, "office", ["10.1.0.0/16"])
    dup = dns_api.client.post(
        "/api/v1/dns/locations", json={"name": "office", "networks": []}, headers=dns_api.auth
    )
    assert dup.status_code == 409
    taken = dns_api.client.post(
        "/api/v1/dns/locations", json={"name": "lab", "networks": ["10.1.0.0/16"]},
        headers=dns_api.auth,
    )  # fmt: skip
    assert taken.status_code == 409 and taken.json()["error"]["fields"][0]["field"] == "network"
    bad = dns_api.client.post(
        "/api/v1/dns/locations", json={"name": "lab", "networks": ["10.1.0.0/33"]},
        headers=dns_api.auth,
    )  # fmt: skip
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "networks"
    extra = dns_api.client.post(
        "/api/v1/dns/locations", json={"name": "lab", "nets": []}, headers=dns_api.auth
    )
    assert extra.status_code == 422
    missing = dns_api.client.delete("/api/v1/dns/locations/nope", headers=dns_api.auth)
    assert missing.status_code == 404


def test_one_default_location_and_updates(dns_api: DnsApi) -> None:
    a = _create(dns_api, "a", [], default=True)
    b = _create(dns_api, "b", ["192.0.2.0/24"], default=True)
    assert b["default"] is True
    got_a = dns_api.client.get(f"/api/v1/dns/locations/{a['id']}", headers=dns_api.auth).json()
    assert got_a["default"] is False
    patched = dns_api.client.patch(
        "/api/v1/dns/locations/b", json={"name": "branch", "networks": ["198.51.100.0/24"]},
        headers=dns_api.auth,
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "branch"
    assert patched.json()["networks"] == ["198.51.100.0/24"]
    assert build_snapshot(dns_api.plane.db).dns.default_location is not None
    deleted = dns_api.client.delete("/api/v1/dns/locations/branch", headers=dns_api.auth)
    assert deleted.status_code == 204
    assert build_snapshot(dns_api.plane.db).dns.default_location is None


def test_upstreams_validate_and_keep_failover_order(dns_api: DnsApi) -> None:
    def add(body: dict[str, object]) -> dict[str, object]:
        response = dns_api.client.post("/api/v1/dns/upstreams", json=body, headers=dns_api.auth)
        assert response.status_code == 201, response.text
        result: dict[str, object] = response.json()
        return result

    add({"name": "local", "type": "udp", "address": "127.0.0.1:5353"})
    add({"name": "first", "type": "tcp", "address": "[::1]:5353", "position": 0})
    add(
        {"name": "doh", "type": "doh", "address": "https://resolver.test/dns-query",
         "bootstrap": ["127.0.0.1"]}
    )  # fmt: skip
    names = [
        u["name"] for u in dns_api.client.get("/api/v1/dns/upstreams", headers=dns_api.auth).json()
    ]
    assert names == ["first", "local", "doh"]
    # A name without bootstrap addresses, a URL for udp, TLS options on udp: all 422.
    for body in (
        {"name": "x", "type": "dot", "address": "resolver.test"},
        {"name": "x", "type": "udp", "address": "https://resolver.test/"},
        {"name": "x", "type": "udp", "address": "127.0.0.1", "tls_name": "a.test"},
        {"name": "x", "type": "doh", "address": "http://127.0.0.1/dns-query"},
        {"name": "x", "type": "udp", "address": "127.0.0.1:99999"},
        {"name": "x", "type": "gopher", "address": "127.0.0.1"},
    ):
        response = dns_api.client.post("/api/v1/dns/upstreams", json=body, headers=dns_api.auth)
        assert response.status_code == 422, body
    dup = dns_api.client.post(
        "/api/v1/dns/upstreams", json={"name": "local", "type": "udp", "address": "127.0.0.2"},
        headers=dns_api.auth,
    )  # fmt: skip
    assert dup.status_code == 409
    snap = build_snapshot(dns_api.plane.db).dns
    assert [u.name for u in snap.upstreams] == ["first", "local", "doh"]
    doh = snap.upstream("doh")
    assert doh is not None and doh.kind is UpstreamKind.DOH
    assert (doh.host, doh.port, doh.path, doh.addresses, doh.tls_name) == (
        "resolver.test",
        443,
        "/dns-query",
        ("127.0.0.1",),
        "resolver.test",
    )
    assert (
        dns_api.client.delete("/api/v1/dns/upstreams/first", headers=dns_api.auth).status_code
        == 204
    )
    positions = [
        (u["name"], u["position"])
        for u in dns_api.client.get("/api/v1/dns/upstreams", headers=dns_api.auth).json()
    ]
    assert positions == [("local", 0), ("doh", 1)]


def test_settings_defaults_refuse_plain_and_validate(dns_api: DnsApi) -> None:
    got = dns_api.client.get("/api/v1/dns/settings", headers=dns_api.auth).json()
    assert got["unmatched_plain"] == "refuse"  # never an open resolver by default
    assert build_snapshot(dns_api.plane.db).dns.unmatched_plain is Unmatched.REFUSE
    patched = dns_api.client.patch(
        "/api/v1/dns/settings",
        json={"unmatched_plain": "serve", "cache_min_ttl": 30, "block_page_ipv4": "192.0.2.80"},
        headers=dns_api.auth,
    )
    assert patched.status_code == 200, patched.text
    snap = build_snapshot(dns_api.plane.db).dns
    assert snap.unmatched_plain is Unmatched.SERVE
    assert snap.cache_min_ttl == 30
    assert snap.block_page_ipv4 == ipaddress.IPv4Address("192.0.2.80")
    for body in (
        {"cache_min_ttl": 100, "cache_max_ttl": 50},
        {"block_page_ipv4": "2001:db8::1"},
        {"block_page_ipv6": "not-an-ip"},
        {"unmatched_plain": "maybe"},
        {"log_retention_days": 0},
    ):
        response = dns_api.client.patch("/api/v1/dns/settings", json=body, headers=dns_api.auth)
        assert response.status_code == 422, body


def test_query_log_filters_and_pages(dns_api: DnsApi) -> None:
    loc = _create(dns_api, "office", ["127.0.0.2/32"])
    now = dt.datetime.now(dt.UTC)
    rows = []
    for i in range(7):
        rows.append(
            {
                "at": now - dt.timedelta(seconds=10 - i),
                "edge": "e",
                "location_id": loc["id"] if i % 2 else None,
                "location_name": "office" if i % 2 else "",
                "protocol": "udp",
                "src_ip": "127.0.0.2",
                "qname": f"h{i}.ads.example" if i < 3 else f"www{i}.example.org",
                "qtype": "A",
                "decision": "block" if i < 3 else "allow",
                "policy_id": "p1" if i < 3 else "",
                "policy_name": "ads" if i < 3 else "",
                "upstream": "",
                "rcode": "NOERROR",
                "cached": False,
                "latency_us": 150,
            }
        )
    old = dict(rows[0], at=now - dt.timedelta(days=30), qname="old.example")
    with dns_api.plane.db.transaction() as s:
        assert dns_queries.insert_batch(s, [*rows, old]) == 8
    get = lambda **params: dns_api.client.get(  # noqa: E731
        "/api/v1/dns/queries", params=params, headers=dns_api.auth
    )
    blocked = get(blocked="true").json()
    # Newest id first (edges insert in arrival order; the old row was inserted last here).
    assert [q["name"] for q in blocked] == [
        "old.example",
        "h2.ads.example",
        "h1.ads.example",
        "h0.ads.example",
    ]
    assert blocked[1]["policy"] == "ads" and blocked[1]["latency_ms"] == 0.15
    assert [q["name"] for q in get(location="office").json()] == [
        "www5.example.org", "www3.example.org", "h1.ads.example"
    ]  # fmt: skip
    assert len(get(name="ads.example").json()) == 3
    first = get(limit=3)
    assert first.status_code == 200 and len(first.json()) == 3
    second = get(limit=3, cursor=first.headers["x-next-cursor"]).json()
    assert second[0]["id"] < first.json()[-1]["id"]
    assert get(decision="nonsense").status_code == 422
    with dns_api.plane.db.transaction() as s:
        assert dns_queries.purge_before(s, now - dt.timedelta(days=7)) == 1
    assert len(get(limit=100).json()) == 7
