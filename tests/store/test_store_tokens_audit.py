"""API tokens, the audit log, the config version and edge heartbeats, on both backends."""

from __future__ import annotations

import datetime as dt

import pytest

from ramparts.store import Conflict, Database, NotFound
from ramparts.store.models import ApiToken, utcnow
from ramparts.store.repositories import audit, edges, tokens, versions


def test_token_authenticates_until_revoked(db: Database) -> None:
    with db.transaction() as s:
        issued = tokens.create(s, "ci")
    assert issued.secret.startswith(tokens.TOKEN_PREFIX)
    with db.transaction() as s:
        assert tokens.authenticate(s, issued.secret) is not None
        assert tokens.authenticate(s, issued.secret + "x") is None
        stored = s.query(ApiToken).one()
        assert issued.secret not in (stored.token_hash, stored.prefix)
    with db.transaction() as s:
        tokens.revoke(s, issued.token.id)
    with db.transaction() as s:
        assert tokens.authenticate(s, issued.secret) is None
        assert tokens.count_active(s) == 0
    with pytest.raises(NotFound), db.transaction() as s:
        tokens.revoke(s, issued.token.id)


def test_expired_token_is_refused(db: Database) -> None:
    with db.transaction() as s:
        issued = tokens.create(s, "short", expires_at=utcnow() + dt.timedelta(seconds=30))
    with db.transaction() as s:
        assert tokens.authenticate(s, issued.secret) is not None
        later = utcnow() + dt.timedelta(minutes=1)
        assert tokens.authenticate(s, issued.secret, now=later) is None


def test_token_names_are_unique(db: Database) -> None:
    with db.transaction() as s:
        tokens.create(s, "ci")
    with pytest.raises(Conflict), db.transaction() as s:
        tokens.create(s, "ci")


def test_audit_is_newest_first_and_filterable(db: Database) -> None:
    with db.transaction() as s:
        for i in range(5):
            audit.record(
                s, actor="token:admin", action=f"x.{i % 2}", resource_type="x", resource_id=str(i)
            )
    with db.session() as s:
        events = audit.page(s, limit=10)
        assert [e.resource_id for e in events] == ["4", "3", "2", "1", "0"]
        assert all(e.at.tzinfo is not None for e in events)
        older = audit.page(s, limit=10, before_id=events[1].id)
        assert [e.resource_id for e in older] == ["2", "1", "0"]
        assert [e.resource_id for e in audit.page(s, limit=10, action="x.1")] == ["3", "1"]


def test_version_bump_is_transactional_and_announced(db: Database) -> None:
    heard: list[int] = []
    db.add_version_listener(heard.append)
    with db.transaction() as s:
        versions.ensure_row(s)
        start = versions.current(s)
    with db.transaction() as s:
        bumped = versions.bump(s)
    assert bumped == start + 1
    assert heard == [bumped]
    with pytest.raises(RuntimeError), db.transaction() as s:
        versions.bump(s)
        raise RuntimeError("roll back")
    with db.session() as s:
        assert versions.current(s) == bumped
    assert heard == [bumped], "a rolled-back change must not be announced"


def test_edges_heartbeat_and_liveness(db: Database) -> None:
    with db.transaction() as s:
        edges.heartbeat(
            s, edge_id="e1", name="a", tunnel_address="127.0.0.1:7844", snapshot_version=3
        )
    with db.transaction() as s:
        edges.heartbeat(
            s, edge_id="e1", name="a", tunnel_address="127.0.0.1:7844", snapshot_version=4
        )
    with db.session() as s:
        live = edges.live(s)
        assert [(e.id, e.snapshot_version) for e in live] == [("e1", 4)]
        assert edges.live(s, now=utcnow() + edges.EDGE_LIVENESS * 2) == []
    with db.transaction() as s:
        edges.remove(s, "e1")
    with db.session() as s:
        assert edges.live(s) == []


def test_migrations_are_idempotent(db: Database) -> None:
    db.migrate()
    db.migrate()
    with db.session() as s:
        assert tokens.count_active(s) == 0
