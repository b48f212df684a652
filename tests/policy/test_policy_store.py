"""Gateway policies and lists in the store, and their compilation into snapshots."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from ramparts.config.gateway import (
    GatewayCache,
    build_gateway,
    decode_list,
    referenced_lists,
    stored_entries,
)
from ramparts.config.gateway_settings import SettingError, check_settings
from ramparts.policy import Context, Identity, ListKind, dns_request, make_list, network_request
from ramparts.store import Conflict, Database, NotFound
from ramparts.store.repositories import policies, policy_lists


def _policy(db: Database, name: str, expr: str, action: str = "block", **kw: object) -> str:
    with db.transaction() as s:
        return policies.create(s, name=name, phase="dns", action=action, expression=expr, **kw).id  # type: ignore[arg-type]


def _list(db: Database, name: str, kind: str, entries: list[str]) -> None:
    with db.transaction() as s:
        row = policy_lists.create(s, name=name, kind=kind)
        policy_lists.set_entries(s, row, entries)


def test_migration_creates_the_policy_tables(db: Database) -> None:
    names = set(inspect(db.engine).get_table_names())
    assert {
        "gateway_policies",
        "gateway_lists",
        "gateway_list_contents",
        "gateway_list_uploads",
        "gateway_list_upload_parts",
    } <= names


def test_precedence_defaults_after_the_last_and_is_unique_per_phase(db: Database) -> None:
    _policy(db, "a", 'dns.fqdn == "a.test"')
    _policy(db, "b", 'dns.fqdn == "b.test"', precedence=1500)
    _policy(db, "c", 'dns.fqdn == "c.test"')
    with db.session() as s:
        order = [(p.name, p.precedence) for p in policies.all_policies(s)]
    assert order == [("a", 1000), ("b", 1500), ("c", 2000)]
    with pytest.raises(Conflict) as info:
        _policy(db, "d", 'dns.fqdn == "d.test"', precedence=1500)
    assert info.value.field == "precedence" and "'b'" in str(info.value)
    with db.transaction() as s:  # another phase may reuse the number
        policies.create(
            s,
            name="n",
            phase="network",
            action="block",
            expression="net.dst.port == 22",
            precedence=1500,
        )
    with pytest.raises(Conflict):
        _policy(db, "a", 'dns.fqdn == "x.test"')


def test_update_moves_phase_to_the_end_and_checks_conflicts(db: Database) -> None:
    _policy(db, "a", 'dns.fqdn == "a.test"')
    with db.transaction() as s:
        policies.create(
            s, name="n1", phase="network", action="block", expression="net.dst.port == 1"
        )
    with db.transaction() as s:
        moved = policies.update(s, "a", {"phase": "network", "expression": "net.dst.port == 2"})
        assert (moved.phase, moved.precedence) == ("network", 2000)
    with pytest.raises(Conflict), db.transaction() as s:
        policies.update(s, "a", {"precedence": 1000})
    with pytest.raises(NotFound), db.transaction() as s:
        policies.update(s, "nope", {"enabled": False})


def test_entries_round_trip_sorted_and_deduplicated(db: Database) -> None:
    _list(db, "l", "domain", ["b.test", "a.test", "b.test"])
    with db.session() as s:
        row = policy_lists.get(s, "l")
        assert row.entry_count == 2 and len(row.content_hash) == 64
        assert policy_lists.entries(s, row) == ["a.test", "b.test"]
    with db.transaction() as s:
        row = policy_lists.get(s, "l")
        assert policy_lists.set_entries(s, row, ["a.test", "b.test"]) is False
        assert policy_lists.set_entries(s, row, []) is True
        assert policy_lists.entries(s, row) == []


def test_entries_with_line_breaks_are_refused(db: Database) -> None:
    with pytest.raises(policy_lists.EntryError):
        policy_lists.encode_entries(["a.test\nb.test"])


def test_staged_upload_parts_join_in_order_and_are_bounded(db: Database) -> None:
    _list(db, "l", "domain", [])
    with db.transaction() as s:
        row = policy_lists.get(s, "l")
        up = policy_lists.start_upload(s, row)
        policy_lists.put_part(s, up, 1, b"two\n")
        policy_lists.put_part(s, up, 0, b"one\n")
        policy_lists.put_part(s, up, 1, b"two.test\n")  # a retried part replaces the first try
        assert policy_lists.upload_data(s, up) == b"one\ntwo.test\n"
        with pytest.raises(Conflict):
            policy_lists.put_part(s, up, policy_lists.MAX_UPLOAD_PARTS, b"x")
        upload_id = up.id
    with db.session() as s:
        other = policy_lists.create(s, name="other", kind="domain")
        with pytest.raises(NotFound):
            policy_lists.get_upload(s, other, upload_id)


def test_ip_lists_store_canonical_ranges() -> None:
    plist = make_list(
        "ips",
        ListKind.IP,
        ["10.0.0.0/25", "10.0.0.128/25", "192.0.2.7", "2001:db8::/32", "198.51.100.1-198.51.100.5"],
    )
    text = stored_entries(plist)
    assert sorted(text) == sorted(
        ["10.0.0.0/24", "192.0.2.7", "2001:db8::/32", "198.51.100.1-198.51.100.5"]
    )
    again = decode_list("ips", ListKind.IP, text)
    assert again.ranges == plist.ranges


def test_referenced_lists_uses_tokens_not_strings() -> None:
    expr = 'any(dns.domains[*] in $bad) and dns.fqdn != "$notalist" or dns.fqdn in $b.c-d'
    assert referenced_lists(expr, "") == {"bad", "b.c-d"}
    assert referenced_lists("$x and (") == {"x"}  # broken: textual scan


def test_build_gateway_compiles_caches_and_skips_broken_rules(db: Database) -> None:
    _list(db, "bad", "domain", ["evil.test", "tracker.test"])
    _list(db, "nets", "ip", ["10.9.0.0/16"])
    _list(db, "unused", "domain", ["x.test"])
    _policy(db, "block-bad", "any(dns.domains[*] in $bad)")
    _policy(db, "block-nets", 'dns.src_ip in $nets and dns.query_rtype == "AAAA"')
    _policy(
        db,
        "eng-only",
        'any(dns.domains[*] == "eng.test")',
        identity='any(identity.groups[*] == "eng")',
        action="allow",
    )
    cache = GatewayCache()
    with db.session() as s:
        gw = build_gateway(s, cache)
    assert gw.rule_errors == ()
    assert set(gw.lists) == {"bad", "nets"}, "only lists in use are loaded"
    decide = gw.policies.evaluate
    d = decide(Context.DNS, dns_request("a.evil.test", "A"))
    assert (d.action, d.rule and d.rule.name) == ("block", "block-bad")
    assert decide(Context.DNS, dns_request("ok.test", "AAAA", src_ip="10.9.1.1")).action == "block"
    assert decide(Context.DNS, dns_request("ok.test", "A", src_ip="10.9.1.1")).action == "allow"
    who = Identity(email="a@x.test", groups=("eng",))
    assert decide(Context.DNS, dns_request("eng.test", identity=who)).rule is not None
    assert decide(Context.NETWORK, network_request("10.0.0.1", 22)).rule is None

    with db.session() as s:  # nothing changed: the same object, no compile
        assert build_gateway(s, cache) is gw
    assert (cache.hits, cache.builds) == (1, 1)

    # A list's content changes: a new set, the new entries in force.
    with db.transaction() as s:
        policy_lists.set_entries(s, policy_lists.get(s, "bad"), ["other.test"])
    with db.session() as s:
        gw2 = build_gateway(s, cache)
    assert gw2 is not gw and gw2.lists["nets"] is gw.lists["nets"], "unchanged lists are reused"
    assert decide(Context.DNS, dns_request("evil.test")).action == "block"
    assert gw2.policies.evaluate(Context.DNS, dns_request("evil.test")).action == "allow"
    assert gw2.policies.evaluate(Context.DNS, dns_request("other.test")).action == "block"

    # A rule that no longer compiles (its list vanished underneath) is skipped and reported.
    with db.transaction() as s:
        policy_lists.delete_list(s, "nets")
    with db.session() as s:
        gw3 = build_gateway(s, cache)
    assert len(gw3.rule_errors) == 1 and gw3.rule_errors[0].startswith("block-nets: expression:")
    assert "unknown list $nets" in gw3.rule_errors[0]
    assert gw3.policies.evaluate(Context.DNS, dns_request("other.test")).action == "block"


def test_disabled_policies_are_not_in_force(db: Database) -> None:
    _policy(db, "off", 'dns.fqdn == "a.test"', enabled=False)
    with db.session() as s:
        gw = build_gateway(s)
    assert gw.policies.evaluate(Context.DNS, dns_request("a.test")).action == "allow"


@pytest.mark.parametrize(
    ("phase", "action", "settings", "key"),
    [
        (Context.DNS, "override", {}, "override_ips"),
        (Context.DNS, "override", {"override_ips": "1.2.3.4,nope"}, "override_ips"),
        (Context.DNS, "block", {"colour": "red"}, "colour"),
        (Context.DNS, "allow", {"block_page": "on"}, "block_page"),
        (Context.DNS_RESOLVER, "resolve", {}, "upstream"),
        (
            Context.NETWORK,
            "l4_override",
            {"override_ip": "10.0.0.1", "override_port": "0"},
            "override_port",
        ),
        (Context.HTTP, "redirect", {"redirect_url": "ftp://x"}, "redirect_url"),
    ],
)
def test_settings_errors_name_the_key(
    phase: Context, action: str, settings: dict[str, str], key: str
) -> None:
    with pytest.raises(SettingError) as info:
        check_settings(phase, action, settings)
    assert info.value.key == key


def test_settings_are_normalised() -> None:
    out = check_settings(Context.DNS, "override", {"override_ips": " 192.0.2.1 , 2001:DB8::1"})
    assert out == {"override_ips": "192.0.2.1,2001:db8::1"}
    assert check_settings(Context.DNS, "safesearch", {"youtube": "Moderate"}) == {
        "youtube": "moderate"
    }


def test_migration_matches_the_models(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ramparts.store.models import Base

    ours = {t for t in Base.metadata.tables if t.startswith("gateway_")}
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)

    mine = [d for d in diff if repr(d).find("gateway_") >= 0]
    assert ours and not mine, mine
