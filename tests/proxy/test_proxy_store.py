"""Proxy repositories and migration on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ramparts import secrets
from ramparts.config.snapshot import Snapshot, _read
from ramparts.store import Conflict, Database, NotFound
from ramparts.store.models import Base, ProxySession, ProxyToken
from ramparts.store.repositories import identity_users, proxy_listeners, proxy_requests, versions
from ramparts.store.repositories import proxy_endpoints as repo
from ramparts.store.repositories import team as team_repo

PROXY_TABLES = {
    "proxy_endpoints",
    "proxy_tokens",
    "proxy_sessions",
    "proxy_listeners",
    "proxy_requests",
}
T0 = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)


def _ours(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
    if type_ == "table":
        return name in PROXY_TABLES
    table = getattr(obj, "table", None)
    return table is not None and table.name in PROXY_TABLES


def test_migration_matches_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": _ours, "compare_type": True}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_endpoint_create_get_update_delete(db: Database) -> None:
    with db.transaction() as s:
        office = repo.create_endpoint(
            s, name="office", kind="source_ip", networks=["10.0.0.0/8"], connect_ports=[443]
        )
        office_id = office.id
    assert re.fullmatch(r"[0-9a-f]{10}", office_id)
    with db.session() as s:
        assert repo.get_endpoint(s, "office").id == office_id
        assert repo.get_endpoint(s, office_id).name == "office"
        with pytest.raises(NotFound):
            repo.get_endpoint(s, "nope")
    with db.transaction() as s:
        updated = repo.update_endpoint(
            s,
            "office",
            name="hq",
            networks=["10.0.0.0/8", "192.0.2.0/24"],
            connect_ports=[443, 8443],
            allow_private_destinations=True,
        )
        assert updated.kind == "source_ip"
    with db.session() as s:
        row = repo.get_endpoint(s, office_id)
        assert (row.name, row.networks, row.connect_ports) == (
            "hq",
            ["10.0.0.0/8", "192.0.2.0/24"],
            [443, 8443],
        )
        assert row.allow_private_destinations and not row.tls_inspection
    with db.transaction() as s:
        repo.delete_endpoint(s, "hq")
    with db.session() as s, pytest.raises(NotFound):
        repo.get_endpoint(s, office_id)


def test_names_and_networks_are_unique(db: Database) -> None:
    with db.transaction() as s:
        repo.create_endpoint(s, name="office", kind="source_ip", networks=["10.0.0.0/8"])
        repo.create_endpoint(s, name="lab", kind="source_ip", networks=["10.1.0.0/16"])
    with pytest.raises(Conflict) as dup, db.transaction() as s:
        repo.create_endpoint(s, name="office", kind="authorization")
    assert dup.value.field == "name"
    with pytest.raises(Conflict) as net, db.transaction() as s:
        repo.create_endpoint(s, name="other", kind="source_ip", networks=["10.0.0.0/8"])
    assert net.value.field == "network"
    with pytest.raises(Conflict) as rename, db.transaction() as s:
        repo.update_endpoint(s, "lab", name="office")
    assert rename.value.field == "name"
    with pytest.raises(Conflict), db.transaction() as s:
        repo.update_endpoint(s, "lab", networks=["10.0.0.0/8"])
    with db.transaction() as s:  # its own networks again: no conflict with itself
        repo.update_endpoint(s, "lab", networks=["10.1.0.0/16"], name="lab")


def test_tokens_keep_only_the_digest_and_go_with_their_endpoint(db: Database) -> None:
    with db.transaction() as s:
        endpoint = repo.create_endpoint(s, name="roaming", kind="authorization")
        endpoint_id = endpoint.id
        token, secret = repo.create_token(
            s, "roaming", email=" Alice@Example.COM ", name="laptop", expires_at=T0
        )
        token_id = token.id
        s.add(
            ProxySession(
                id="sess1",
                endpoint_id=endpoint_id,
                src_ip="127.0.0.1",
                email="alice@example.com",
                groups=["eng"],
                idp="pin",
                expires_at=T0,
            )
        )
    assert secret.startswith("rpx_") and len(secret) > 40
    with db.session() as s:
        (stored,) = repo.list_tokens(s, endpoint_id)
        assert stored.digest == secrets.digest(secret) and secret not in stored.digest
        assert stored.email == "alice@example.com" and stored.expires_at == T0
        assert repo.get_token(s, token_id).name == "laptop"
    with db.transaction() as s:
        repo.create_token(s, endpoint_id, email="bob@example.com")
        repo.delete_token(s, token_id)
    with db.session() as s:
        assert [t.email for t in repo.list_tokens(s, "roaming")] == ["bob@example.com"]
        with pytest.raises(NotFound):
            repo.get_token(s, token_id)
    with db.transaction() as s:
        repo.delete_endpoint(s, "roaming")
    with db.session() as s:
        assert s.query(ProxyToken).count() == 0
        assert s.query(ProxySession).count() == 0


def _row(at: dt.datetime, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "at": at,
        "edge": "e1",
        "endpoint_id": "abcdefghij",
        "endpoint_name": "office",
        "src_ip": "10.0.0.5",
        "kind": "http",
        "method": "GET",
        "host": "www.example.com",
        "url": "http://www.example.com/",
        "decision": "allow",
        "status": 200,
        "bytes_up": 100,
        "bytes_down": 5_000_000_000,
        "duration_us": 1234,
    }
    base.update(extra)
    return base


def test_request_log_filters_pages_clips_and_purges(db: Database) -> None:
    rows = [
        _row(T0),
        _row(T0 + dt.timedelta(seconds=1), decision="block", host="ads.example.com"),
        _row(T0 + dt.timedelta(seconds=2), decision="deny", endpoint_id=None, endpoint_name=""),
        _row(
            T0 + dt.timedelta(seconds=3),
            user_email="alice@example.com",
            kind="connect",
            method="CONNECT",
            host="other.test",
            url="x" * 5000,
            decision="auth",
            status=407,
        ),
    ]
    with db.transaction() as s:
        assert proxy_requests.insert_batch(s, rows) == 4
        assert proxy_requests.insert_batch(s, []) == 0
    with db.session() as s:
        newest = proxy_requests.query(s, limit=10)
        assert [r.decision for r in newest] == ["auth", "deny", "block", "allow"]
        assert len(newest[0].url) == proxy_requests.MAX_URL_CHARS
        assert (
            newest[-1].bytes_down == 5_000_000_000 and newest[0].user_email == "alice@example.com"
        )
        blocked = proxy_requests.query(s, limit=10, blocked=True)
        assert [r.decision for r in blocked] == ["deny", "block"]
        assert [r.id for r in proxy_requests.query(s, limit=10, endpoint="office")] == [
            newest[0].id,
            newest[2].id,
            newest[3].id,
        ]
        assert len(proxy_requests.query(s, limit=10, endpoint="abcdefghij")) == 3
        assert len(proxy_requests.query(s, limit=10, user="Alice@example.com")) == 1
        hosts = proxy_requests.query(s, limit=10, host="example.com")
        assert {r.host for r in hosts} == {"www.example.com", "ads.example.com"}
        page2 = proxy_requests.query(s, limit=2, before_id=newest[1].id)
        assert [r.id for r in page2] == [newest[2].id, newest[3].id]
        since = proxy_requests.query(s, limit=10, since=T0 + dt.timedelta(seconds=2))
        assert len(since) == 2
    with db.transaction() as s:
        assert proxy_requests.purge_older_than(s, T0 + dt.timedelta(seconds=2)) == 2
    with db.session() as s:
        assert len(proxy_requests.query(s, limit=10)) == 2


def test_listeners_most_recent_and_by_edge(db: Database) -> None:
    with db.session() as s:
        assert proxy_listeners.current(s) is None
    with db.transaction() as s:
        proxy_listeners.record(s, "e1", {"proxy": "127.0.0.1:7846"})
    with db.transaction() as s:
        proxy_listeners.record(s, "e2", {"proxy": "127.0.0.2:7846", "proxy_tls": "127.0.0.2:7847"})
    with db.session() as s:
        assert proxy_listeners.current(s) == {
            "proxy": "127.0.0.2:7846",
            "proxy_tls": "127.0.0.2:7847",
        }
        assert proxy_listeners.current(s, ["e1"]) == {"proxy": "127.0.0.1:7846"}
        assert proxy_listeners.current(s, []) is None
    with db.transaction() as s:
        proxy_listeners.record(s, "e1", {"proxy": "127.0.0.1:9999"})
    with db.session() as s:
        assert proxy_listeners.current(s) == {"proxy": "127.0.0.1:9999"}
    with db.transaction() as s:
        proxy_listeners.withdraw(s, "e1")
        proxy_listeners.withdraw(s, "never")
    with db.session() as s:
        assert proxy_listeners.current(s, ["e1"]) is None


def test_snapshot_reads_endpoints_and_tokens_with_groups(db: Database) -> None:
    with db.transaction() as s:
        team_repo.create(
            s, name="acme", domain="acme.localhost", ca_cert_pem="", ca_fingerprint="fp"
        )
        repo.create_endpoint(s, name="office", kind="source_ip", networks=["10.0.0.0/8"])
        repo.create_endpoint(s, name="roaming", kind="authorization", connect_ports=[443, 22])
        _, alice = repo.create_token(s, "roaming", email="alice@example.com")
        _, bob = repo.create_token(s, "roaming", email="bob@example.com", expires_at=T0)
        identity_users.create_group(s, "eng", "", ["alice@example.com"])
        identity_users.create_group(s, "admins", "", ["Alice@example.com"])
        versions.bump(s)
    with db.session() as s:
        snap: Snapshot = _read(s, versions.current(s))
    proxy = snap.proxy
    assert {e.name for e in proxy.endpoints.values()} == {"office", "roaming"}
    (roaming,) = proxy.authorization_endpoints()
    assert roaming.connect_ports == frozenset({22, 443})
    a = proxy.tokens[secrets.digest(alice)]
    b = proxy.tokens[secrets.digest(bob)]
    assert (a.email, a.groups, a.expires_at, a.endpoint_id) == (
        "alice@example.com",
        ("admins", "eng"),
        None,
        roaming.id,
    )
    assert b.groups == () and b.expires_at == T0.timestamp()
