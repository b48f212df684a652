"""Tunnel repository on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import pytest

from ramparts import secrets
from ramparts.store import Conflict, Database, NotFound
from ramparts.store.models import TunnelCredential
from ramparts.store.repositories import tunnels


def test_create_stores_only_the_digest(db: Database) -> None:
    with db.transaction() as s:
        issued = tunnels.create(s, "demo")
    with db.session() as s:
        stored = s.query(TunnelCredential).filter_by(tunnel_id=issued.tunnel.id).one()
        assert stored.secret_hash == secrets.digest(issued.secret)
        assert issued.secret not in stored.secret_hash
        assert tunnels.get(s, "demo").id == issued.tunnel.id
        assert tunnels.get(s, issued.tunnel.id).name == "demo"


def test_duplicate_name_conflicts(db: Database) -> None:
    with db.transaction() as s:
        tunnels.create(s, "demo")
    with pytest.raises(Conflict) as info, db.transaction() as s:
        tunnels.create(s, "demo")
    assert info.value.field == "name"


def test_unknown_tunnel_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound), db.session() as s:
        tunnels.get(s, "nope")


def test_issue_keeps_old_credentials_and_rotate_revokes_them(db: Database) -> None:
    with db.transaction() as s:
        first = tunnels.create(s, "demo")
    with db.transaction() as s:
        second = tunnels.issue_credential(s, "demo")
    with db.session() as s:
        digests = {c.secret_hash for c in tunnels.get(s, "demo").credentials}
    assert digests == {secrets.digest(first.secret), secrets.digest(second.secret)}
    with db.transaction() as s:
        third = tunnels.rotate(s, "demo")
    with db.session() as s:
        digests = {c.secret_hash for c in tunnels.get(s, "demo").credentials}
    assert digests == {secrets.digest(third.secret)}


def test_delete_cascades_credentials(db: Database) -> None:
    with db.transaction() as s:
        issued = tunnels.create(s, "demo")
    with db.transaction() as s:
        tunnels.delete_tunnel(s, "demo")
    with db.session() as s:
        assert s.query(TunnelCredential).filter_by(tunnel_id=issued.tunnel.id).count() == 0
        with pytest.raises(NotFound):
            tunnels.get(s, "demo")


def test_keyset_pages_cover_everything_once(db: Database) -> None:
    with db.transaction() as s:
        for i in range(7):
            tunnels.create(s, f"t{i}")
    seen: list[str] = []
    after = None
    with db.session() as s:
        while True:
            page = tunnels.page(s, limit=3, after=after)
            if not page:
                break
            seen.extend(t.name for t in page)
            after = (page[-1].created_at, page[-1].id)
    assert sorted(seen) == [f"t{i}" for i in range(7)]
    assert len(seen) == len(set(seen))
