"""Store side of Access: migration, repositories, and the snapshot part they build."""

from __future__ import annotations

import datetime as dt

import pytest

from ramparts.config.access import build_access, normalise_path, normalise_prefix
from ramparts.config.access_rules import Action
from ramparts.config.snapshot import build_snapshot
from ramparts.store import Conflict, Database, NotFound
from ramparts.store.repositories import (
    access_apps,
    identity_providers,
    identity_users,
    service_tokens,
    signing_keys,
    versions,
)
from ramparts.store.repositories import team as team_repo

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def test_migration_matches_the_models(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ramparts.store.models import Base

    prefixes = ("access_", "identity_", "service_tokens")
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    mine = [d for d in diff if any(p in repr(d) for p in prefixes)]
    assert not mine, mine


def _seed(db: Database) -> None:
    with db.transaction() as s:
        team_repo.create(s, name="acme", domain="acme.localhost", ca_cert_pem="", ca_fingerprint="")
        versions.ensure_row(s)


def test_apps_policies_tokens_idps_build_a_snapshot(db: Database) -> None:
    _seed(db)
    with db.transaction() as s:
        assert signing_keys.ensure_current(s)
        assert not signing_keys.ensure_current(s)
        idp = identity_providers.create(
            s,
            name="okta",
            type="oidc",
            config={"issuer": "https://idp.example.com", "client_id": "ramparts"},
            secret="shh",
        )
        identity_providers.create(
            s,
            name="broken",
            type="oidc",
            config={"issuer": "ftp://nope", "client_id": "x"},
            secret="",
        )
        issued = service_tokens.create(s, "ci", None)
        app = access_apps.create_app(s, name="wiki", domain="wiki.acme.localhost", path="")
        admin = access_apps.create_app(
            s, name="wiki-admin", domain="wiki.acme.localhost", path="/admin"
        )
        access_apps.create_policy(
            s, app, name="staff", action="allow", include=["idp=okta"], require=[], exclude=[]
        )
        access_apps.create_policy(
            s,
            app,
            name="ci",
            action="service_auth",
            include=["service_token=ci"],
            require=[],
            exclude=[],
        )
        access_apps.create_policy(
            s, admin, name="bad", action="bypass", include=["group=x"], require=[], exclude=[]
        )
        group = identity_users.create_group(s, "eng", "", ["Alice@Example.com"])
        assert group.name == "eng"
        versions.bump(s)
    snap = build_snapshot(db)
    acc = snap.access
    assert acc.keys.signing is not None and len(acc.keys.jwks["keys"]) == 1
    assert [i.name for i in acc.idps] == ["okta"]
    assert any("broken" in e for e in acc.errors) and any("bad" in e for e in acc.errors)
    wiki = acc.app_for("wiki.acme.localhost", "/")
    assert wiki is not None and wiki.name == "wiki"
    assert [p.name for p in wiki.policies] == ["staff", "ci"]
    assert wiki.policies[0].include[0].value == idp.id  # IdP name resolved to its id
    assert wiki.policies[1].include[0].value == issued.token.id
    assert wiki.policies[1].action is Action.SERVICE_AUTH
    assert acc.app_for("wiki.acme.localhost", "/admin/x?y").name == "wiki-admin"  # type: ignore[union-attr]
    assert acc.app_for("wiki.acme.localhost", "/%61dmin").name == "wiki-admin"  # type: ignore[union-attr]
    assert acc.app_for("wiki.acme.localhost", "/x/../ADMIN").name == "wiki-admin"  # type: ignore[union-attr]
    assert acc.app_for("wiki.acme.localhost", "/administrator").name == "wiki"  # type: ignore[union-attr]
    assert acc.app_for("other.acme.localhost", "/") is None
    assert acc.service_tokens[issued.token.client_id].id == issued.token.id
    assert acc.group_members["alice@example.com"] == frozenset({"eng"})
    assert acc.app_by_aud(wiki.aud) is wiki
    assert "shh" not in repr(acc)


def test_conflicts_and_not_found(db: Database) -> None:
    _seed(db)
    with db.transaction() as s:
        app = access_apps.create_app(s, name="a", domain="a.example.com", path="")
        access_apps.create_policy(
            s, app, name="p", action="allow", include=["everyone"], require=[], exclude=[]
        )
    with pytest.raises(Conflict), db.transaction() as s:
        access_apps.create_app(s, name="a", domain="b.example.com", path="")
    with pytest.raises(Conflict), db.transaction() as s:
        access_apps.create_app(s, name="b", domain="a.example.com", path="")
    with pytest.raises(Conflict), db.transaction() as s:
        app = access_apps.get_app(s, "a")
        access_apps.create_policy(
            s, app, name="p", action="allow", include=["everyone"], require=[], exclude=[]
        )
    with db.transaction() as s:
        app = access_apps.get_app(s, "a")
        second = access_apps.create_policy(
            s, app, name="q", action="block", include=["everyone"], require=[], exclude=[]
        )
        assert second.precedence == 2 * access_apps.PRECEDENCE_STEP
    with pytest.raises(NotFound), db.session() as s:
        access_apps.get_app(s, "nope")


def test_key_rotation_keeps_the_old_key_published(db: Database) -> None:
    with db.transaction() as s:
        signing_keys.ensure_current(s, NOW)
        first = signing_keys.records(s)[0].kid
        signing_keys.rotate(s, NOW + dt.timedelta(days=1))
    with db.session() as s:
        ring = build_access(s, NOW + dt.timedelta(days=2)).keys
        assert ring.signing is not None and ring.signing.kid != first
        assert first in ring.public_keys
        much_later = NOW + dt.timedelta(days=60)
        assert first not in build_access(s, much_later).keys.public_keys
    with db.transaction() as s:
        signing_keys.rotate(s, NOW + dt.timedelta(days=60))
        assert first not in {r.kid for r in signing_keys.records(s)}  # pruned


def test_users_logins_and_revocation(db: Database) -> None:
    with db.transaction() as s:
        u1 = identity_users.record_login(s, email="a@example.com", name="A", idp_id="i", now=NOW)
        u2 = identity_users.record_login(s, email="a@example.com", name="", idp_id="j", now=NOW)
        assert u1.id == u2.id and u2.name == "A" and u2.last_idp_id == "j"
        identity_users.revoke_sessions(s, "a@example.com", NOW)
    with db.session() as s:
        assert identity_users.revocations(s) == {u1.id: NOW}


def test_normalise_path() -> None:
    assert normalise_path("/") == ""
    assert normalise_path("/Admin/") == "/admin"
    assert normalise_path("//admin//x") == "/admin/x"
    assert normalise_path("/%2561dmin") == "/admin"
    assert normalise_path("/a/./b/../../admin?q=/x") == "/admin"
    assert normalise_path("/..%2fadmin") == "/admin"
    assert normalise_path("\\admin") == "/admin"
    assert normalise_prefix("admin/") == "/admin" and normalise_prefix("/") == ""
