"""Gateway policies through HTTP: validation naming the field, CRUD, audit, version, test."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramparts.config.snapshot import build_snapshot
from ramparts.policy import Context, dns_request
from ramparts.store.models import AuditEvent
from ramparts.store.repositories import versions

from .conftest import Api

P = "/api/v1/policies"


def _create(api: Api, **body: Any) -> Any:
    body.setdefault("phase", "dns")
    body.setdefault("action", "block")
    return api.client.post(P, json=body, headers=api.auth)


def _version(api: Api) -> int:
    with api.plane.db.session() as s:
        return versions.current(s)


def _error(response: Any) -> tuple[str, str]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    return error["fields"][0]["field"], error["message"]


def test_create_list_get_and_default_precedence(api: Api) -> None:
    before = _version(api)
    a = _create(api, name="Block bad", expression='any(dns.domains[*] == "bad.test")')
    assert a.status_code == 201, a.text
    b = _create(api, name="b", expression='dns.query_rtype == "AAAA"', enabled=False)
    body = a.json()
    assert body["precedence"] == 1000 and b.json()["precedence"] == 2000
    assert body["enabled"] is True and body["settings"] == {} and body["lists"] == []
    assert _version(api) == before + 2, "every change bumps the config version"
    got = api.client.get(f"{P}/Block bad", headers=api.auth).json()
    assert got["id"] == body["id"]
    listed = api.client.get(P, headers=api.auth).json()
    assert [p["name"] for p in listed] == ["Block bad", "b"]


def test_pagination_follows_phase_and_precedence(api: Api) -> None:
    for i in range(5):
        assert _create(api, name=f"p{i}", expression=f'dns.fqdn == "{i}.test"').status_code == 201
    _create(api, name="net", phase="network", expression="net.dst.port == 22")
    seen: list[str] = []
    url: str | None = f"{P}?limit=2"
    while url:
        response = api.client.get(url, headers=api.auth)
        seen += [p["name"] for p in response.json()]
        cursor = response.headers.get("x-next-cursor")
        url = f"{P}?limit=2&cursor={cursor}" if cursor else None
    assert seen == ["p0", "p1", "p2", "p3", "p4", "net"]
    only = api.client.get(f"{P}?phase=network", headers=api.auth).json()
    assert [p["name"] for p in only] == ["net"]


def test_expression_errors_name_the_field_with_a_caret(api: Api) -> None:
    field, message = _error(_create(api, name="x", expression='dns.fqdnx == "a"'))
    assert field == "expression"
    assert "line 1, column 1: unknown field 'dns.fqdnx'" in message
    assert "\n  ^" in message, "the caret under the column"
    field, message = _error(_create(api, name="x", expression='dns.fqdn == "a" and'))
    assert field == "expression" and "column 20" in message
    field, message = _error(_create(api, name="x", expression='http.request.method == "GET"'))
    assert field == "expression" and "http.request.method" in message


def test_identity_action_and_settings_errors(api: Api) -> None:
    field, message = _error(
        _create(api, name="x", expression='dns.fqdn == "a"', identity='dns.fqdn == "a"')
    )
    assert field == "identity"
    field, message = _error(_create(api, name="x", expression='dns.fqdn == "a"', action="nope"))
    assert field == "action" and "override" in message, "lists the valid actions"
    field, message = _error(_create(api, name="x", expression='dns.fqdn == "a"', action="override"))
    assert field == "settings.override_ips"
    field, message = _error(
        _create(
            api,
            name="x",
            expression='dns.fqdn == "a"',
            action="override",
            settings={"override_ips": "1.2.3.4,banana"},
        )
    )
    assert field == "settings.override_ips" and "banana" in message
    field, _ = _error(_create(api, name="x", expression="", identity=""))
    assert field == "expression", "a rule needs an expression"
    field, _ = _error(_create(api, name=" x", expression='dns.fqdn == "a"'))
    assert field == "name"
    ok = _create(
        api,
        name="x",
        expression='dns.fqdn == "a"',
        action="override",
        settings={"override_ips": " 192.0.2.1 "},
    )
    assert ok.status_code == 201 and ok.json()["settings"] == {"override_ips": "192.0.2.1"}


def test_unknown_list_and_wrong_kind(api: Api) -> None:
    field, message = _error(_create(api, name="x", expression="any(dns.domains[*] in $nope)"))
    assert field == "expression" and "unknown list $nope" in message
    api.client.post(
        "/api/v1/lists",
        json={"name": "ips", "kind": "ip", "entries": ["10.0.0.0/8"]},
        headers=api.auth,
    )
    field, message = _error(_create(api, name="x", expression="any(dns.domains[*] in $ips)"))
    assert "holds ip entries" in message
    ok = _create(api, name="x", expression="dns.src_ip in $ips")
    assert ok.status_code == 201 and ok.json()["lists"] == ["ips"]


def test_conflicts(api: Api) -> None:
    assert _create(api, name="a", expression='dns.fqdn == "a"', precedence=10).status_code == 201
    dup = _create(api, name="a", expression='dns.fqdn == "b"')
    assert dup.status_code == 409 and dup.json()["error"]["fields"][0]["field"] == "name"
    taken = _create(api, name="b", expression='dns.fqdn == "b"', precedence=10)
    assert taken.status_code == 409
    assert taken.json()["error"]["fields"][0]["field"] == "precedence"
    other_phase = _create(
        api, name="c", phase="network", expression="net.dst.port == 1", precedence=10
    )
    assert other_phase.status_code == 201


def test_update_validates_the_merged_policy(api: Api) -> None:
    created = _create(
        api,
        name="a",
        expression='dns.fqdn == "a.test"',
        action="override",
        settings={"override_ips": "192.0.2.1"},
    ).json()
    before = _version(api)
    patched = api.client.patch(
        f"{P}/a", json={"expression": 'dns.fqdn == "b.test"'}, headers=api.auth
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["settings"] == {"override_ips": "192.0.2.1"}
    assert _version(api) == before + 1
    bad = api.client.patch(f"{P}/a", json={"expression": "dns.fqdn =="}, headers=api.auth)
    assert _error(bad)[0] == "expression"
    # Another action: the old action's settings do not carry over.
    blocked = api.client.patch(f"{P}/a", json={"action": "block"}, headers=api.auth).json()
    assert blocked["action"] == "block" and blocked["settings"] == {}
    wrong = api.client.patch(f"{P}/a", json={"phase": "http"}, headers=api.auth)
    assert _error(wrong)[0] == "expression", "dns fields are not http fields"
    moved = api.client.patch(
        f"{P}/{created['id']}",
        json={"phase": "network", "expression": "net.dst.port == 22", "name": "renamed"},
        headers=api.auth,
    ).json()
    assert (moved["phase"], moved["name"], moved["precedence"]) == ("network", "renamed", 1000)
    assert (
        api.client.patch(f"{P}/renamed", json={"enabled": None}, headers=api.auth).status_code
        == 422
    )
    assert (
        api.client.patch(f"{P}/nope", json={"enabled": False}, headers=api.auth).status_code == 404
    )


def test_delete_and_audit(api: Api) -> None:
    _create(api, name="a", expression='dns.fqdn == "a"')
    api.client.patch(f"{P}/a", json={"enabled": False}, headers=api.auth)
    assert api.client.delete(f"{P}/a", headers=api.auth).status_code == 204
    assert api.client.get(f"{P}/a", headers=api.auth).status_code == 404
    assert api.client.delete(f"{P}/a", headers=api.auth).status_code == 404
    with api.plane.db.session() as s:
        actions = [
            e.action
            for e in s.query(AuditEvent).filter_by(resource_type="policy").order_by(AuditEvent.id)
        ]
    assert actions == ["policy.create", "policy.update", "policy.delete"]


def test_policy_test_gives_verdict_and_every_match(api: Api) -> None:
    api.client.post(
        "/api/v1/lists",
        json={"name": "bad", "kind": "domain", "entries": ["example.com"]},
        headers=api.auth,
    )
    _create(
        api,
        name="allow-src",
        expression="dns.src_ip in {127.0.0.0/8}",
        action="allow",
        precedence=5,
    )
    _create(api, name="block-bad", expression="any(dns.domains[*] in $bad)", precedence=10)
    _create(api, name="aaaa", expression='dns.query_rtype == "AAAA"', precedence=20)
    request = {"dns.fqdn": "x.example.com", "dns.query_rtype": "A", "dns.src_ip": "10.0.0.2"}
    verdict = api.client.post(
        f"{P}/test", json={"phase": "dns", "request": request}, headers=api.auth
    ).json()
    assert verdict["action"] == "block" and verdict["matched"] is True
    assert verdict["policy"]["name"] == "block-bad"
    assert [m["name"] for m in verdict["matching"]] == ["block-bad"]
    request.update({"dns.src_ip": "127.0.0.2", "dns.query_rtype": "AAAA"})
    verdict = api.client.post(
        f"{P}/test", json={"phase": "dns", "request": request}, headers=api.auth
    ).json()
    assert verdict["policy"]["name"] == "allow-src" and verdict["action"] == "allow"
    assert [m["name"] for m in verdict["matching"]] == ["allow-src", "block-bad", "aaaa"]
    default = api.client.post(
        f"{P}/test", json={"phase": "network", "request": {"net.dst.port": 22}}, headers=api.auth
    ).json()
    assert default == {
        "phase": "network",
        "action": "allow",
        "matched": False,
        "policy": None,
        "settings": {},
        "matching": [],
        "rule_errors": [],
    }
    bad = api.client.post(
        f"{P}/test", json={"phase": "dns", "request": {"dns.nope": "x"}}, headers=api.auth
    )
    assert _error(bad)[0] == "request"
    bad_ip = api.client.post(
        f"{P}/test", json={"phase": "dns", "request": {"dns.src_ip": "x"}}, headers=api.auth
    )
    assert _error(bad_ip)[0] == "request"


def test_snapshot_carries_the_policies(api: Api) -> None:
    _create(api, name="b", expression='any(dns.domains[*] == "blocked.test")')
    snapshot = build_snapshot(api.plane.db)
    decision = snapshot.gateway.policies.evaluate(Context.DNS, dns_request("a.blocked.test"))
    assert decision.action == "block" and decision.rule is not None and decision.rule.name == "b"


_ATOMS = st.sampled_from(
    [
        "dns.fqdn",
        "dns.domains[*]",
        "any(",
        ")",
        "(",
        "==",
        "in",
        "matches",
        "and",
        "or",
        "not",
        '"a.test"',
        "{",
        "}",
        "10.0.0.0/8",
        "22",
        "$l",
        "$missing",
        "net.dst.port",
        "http.request.uri.path",
        '"^/a(b|c)*$"',
        "\\",
        '"',
        "'",
        "\n",
        " ",
    ]
)
_EXPRESSIONS = st.one_of(
    st.lists(_ATOMS, max_size=12).map(" ".join),
    st.text(max_size=60),
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    expression=_EXPRESSIONS,
    identity=st.one_of(st.just(""), _EXPRESSIONS),
    phase=st.sampled_from(["dns", "dns_resolver", "dns_post", "network", "http"]),
    action=st.sampled_from(["block", "allow", "override", "resolve", "x"]),
)
def test_random_expressions_are_201_or_422(
    api: Api, expression: str, identity: str, phase: str, action: str
) -> None:
    if api.client.get("/api/v1/lists/l", headers=api.auth).status_code == 404:
        api.client.post(
            "/api/v1/lists",
            json={"name": "l", "kind": "domain", "entries": ["a.test"]},
            headers=api.auth,
        )
    response = api.client.post(
        P,
        json={
            "name": "fuzz",
            "phase": phase,
            "action": action,
            "expression": expression,
            "identity": identity,
        },
        headers=api.auth,
    )
    assert response.status_code in (201, 422), response.text
    if response.status_code == 201:
        assert api.client.delete(f"{P}/fuzz", headers=api.auth).status_code == 204
    else:
        error = response.json()["error"]
        assert error["fields"][0]["field"] in (
            "expression",
            "identity",
            "action",
            "settings.upstream",
            "settings.override_ips",
        )


_FIELDS = st.sampled_from(
    [
        "dns.fqdn",
        "dns.src_ip",
        "dns.resolved_ips",
        "net.dst.port",
        "identity.groups",
        "http.request.uri",
        "x",
    ]
)
_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=2)
    ),
    max_leaves=6,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    request=st.dictionaries(_FIELDS, _VALUES, max_size=4),
    phase=st.sampled_from(["dns", "dns_post", "network", "http"]),
)
def test_random_test_requests_are_200_or_422(api: Api, request: dict[str, Any], phase: str) -> None:
    response = api.client.post(
        f"{P}/test", json={"phase": phase, "request": request}, headers=api.auth
    )
    assert response.status_code in (200, 422), response.text
