"""Gateway lists through HTTP: inline, text and staged uploads, URL lists refreshed from a
local server, conflicts with policies, and a million entries into a snapshot."""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramparts.api.list_refresh import ListRefreshRunner
from ramparts.config.gateway import DEFAULT_CACHE, GatewayCache, build_gateway
from ramparts.config.snapshot import build_snapshot
from ramparts.policy import Context, dns_request
from ramparts.store.models import AuditEvent
from ramparts.store.repositories import policy_lists, versions

from .conftest import Api

L = "/api/v1/lists"


class ListServer:
    """Serves ``files`` on loopback with ETags (304 on If-None-Match); counts GETs."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[int, bytes]] = {}
        self.gets: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.gets.append(self.path)
                status, body = server.files.get(self.path, (404, b"not found"))
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if status == 200 and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def list_server() -> Iterator[ListServer]:
    server = ListServer()
    yield server
    server.close()


@pytest.fixture
def refresher(api: Api, tmp_path: Path) -> ListRefreshRunner:
    """A runner attached to the app (not started: refreshes happen on request here)."""
    runner = ListRefreshRunner(api.plane.db, tmp_path / "lists-cache")
    api.client.app.state.list_refresh = runner  # type: ignore[attr-defined]
    return runner


def _version(api: Api) -> int:
    with api.plane.db.session() as s:
        return versions.current(s)


def _field(response: Any) -> str:
    assert response.status_code in (409, 422), response.text
    return str(response.json()["error"]["fields"][0]["field"])


def test_inline_list_create_get_entries_and_pages(api: Api) -> None:
    before = _version(api)
    created = api.client.post(
        L,
        json={"name": "bad", "kind": "domain", "entries": ["B.test", "a.test.", "*.c.test"]},
        headers=api.auth,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["entries"], body["source"], body["used_by"]) == (3, "inline", [])
    assert _version(api) == before + 1
    entries = api.client.get(f"{L}/bad/entries", headers=api.auth).json()
    assert entries == ["a.test", "b.test", "c.test"], "normalised and sorted"
    first = api.client.get(f"{L}/bad/entries?limit=2", headers=api.auth)
    assert first.json() == ["a.test", "b.test"]
    cursor = first.headers["x-next-cursor"]
    rest = api.client.get(f"{L}/bad/entries?limit=2&cursor={cursor}", headers=api.auth)
    assert rest.json() == ["c.test"] and "x-next-cursor" not in rest.headers


def test_bad_entries_name_the_index(api: Api) -> None:
    response = api.client.post(
        L, json={"name": "ips", "kind": "ip", "entries": ["10.0.0.0/8", "nope"]}, headers=api.auth
    )
    assert _field(response) == "entries.1"
    assert _field(api.client.post(L, json={"name": "$x", "kind": "ip"}, headers=api.auth)) == "name"
    assert (
        _field(api.client.post(L, json={"name": "x", "kind": "nope"}, headers=api.auth)) == "kind"
    )
    assert (
        _field(
            api.client.post(
                L, json={"name": "x", "kind": "ip", "url": "ftp://a/b"}, headers=api.auth
            )
        )
        == "url"
    )
    assert (
        _field(
            api.client.post(
                L,
                json={"name": "x", "kind": "ip", "url": "http://a/b", "refresh": "5s"},
                headers=api.auth,
            )
        )
        == "refresh"
    )
    assert (
        _field(
            api.client.post(L, json={"name": "x", "kind": "ip", "refresh": "1h"}, headers=api.auth)
        )
        == "refresh"
    )


def test_replace_entries_with_text_formats_and_json(api: Api) -> None:
    api.client.post(L, json={"name": "hosts", "kind": "domain"}, headers=api.auth)
    text = (
        b"# a hosts file\n0.0.0.0 ads.test tracker.test\n127.0.0.1 localhost\ngarbage line here\n"
    )
    response = api.client.put(
        f"{L}/hosts/entries?format=hosts",
        content=text,
        headers={**api.auth, "Content-Type": "text/plain"},
    )
    assert response.status_code == 200, response.text
    assert (response.json()["entries"], response.json()["skipped"]) == (2, 1)
    adblock = b"! title\n||ads.test^\n||x.test^$third-party\n@@||ok.test^\n"
    response = api.client.put(
        f"{L}/hosts/entries", content=adblock, headers={**api.auth, "Content-Type": "text/plain"}
    )
    assert response.json()["entries"] == 1, "auto-detected adblock; options rules skipped"
    response = api.client.put(f"{L}/hosts/entries", json=["one.test", "two.test"], headers=api.auth)
    assert response.json()["entries"] == 2
    assert (
        _field(api.client.put(f"{L}/hosts/entries", json=["ok.test", "bad name"], headers=api.auth))
        == "entries.1"
    )
    assert _field(api.client.put(f"{L}/hosts/entries", json={"a": 1}, headers=api.auth)) == "body"
    bad_utf8 = api.client.put(
        f"{L}/hosts/entries",
        content=b"\xff\xfe",
        headers={**api.auth, "Content-Type": "text/plain"},
    )
    assert _field(bad_utf8) == "body"


def test_staged_upload_in_parts(api: Api) -> None:
    api.client.post(L, json={"name": "big", "kind": "domain"}, headers=api.auth)
    upload = api.client.post(f"{L}/big/uploads", headers=api.auth).json()
    assert upload["max_part_bytes"] == 1024 * 1024
    base = f"{L}/big/uploads/{upload['id']}"
    data = b"".join(f"n{i}.test\n".encode() for i in range(1000))
    parts = [data[i : i + 999] for i in range(0, len(data), 999)]  # parts split lines anywhere
    before = _version(api)
    for seq, part in enumerate(parts):
        response = api.client.put(f"{base}/parts/{seq}", content=part, headers=api.auth)
        assert response.status_code == 204, response.text
    assert _version(api) == before, "staged parts are not configuration yet"
    committed = api.client.post(f"{base}/commit?format=plain", headers=api.auth)
    assert committed.status_code == 200, committed.text
    assert committed.json()["entries"] == 1000 and _version(api) == before + 1
    assert api.client.post(f"{base}/commit", headers=api.auth).status_code == 404, "used up"
    other = api.client.post(L, json={"name": "other", "kind": "domain"}, headers=api.auth)
    assert other.status_code == 201
    assert (
        api.client.put(
            f"{L}/other/uploads/{upload['id']}/parts/0", content=b"x", headers=api.auth
        ).status_code
        == 404
    )


def test_lists_used_by_policies_cannot_go_or_be_renamed(api: Api) -> None:
    api.client.post(
        L, json={"name": "bad", "kind": "domain", "entries": ["x.test"]}, headers=api.auth
    )
    api.client.post(L, json={"name": "bad2", "kind": "domain"}, headers=api.auth)
    for name in ("p1", "p2"):
        created = api.client.post(
            "/api/v1/policies",
            json={
                "name": name,
                "phase": "dns",
                "action": "block",
                "expression": "any(dns.domains[*] in $bad)",
            },
            headers=api.auth,
        )
        assert created.status_code == 201, created.text
    deleted = api.client.delete(f"{L}/bad", headers=api.auth)
    assert deleted.status_code == 409
    assert "p1, p2" in deleted.json()["error"]["message"]
    assert api.client.get(f"{L}/bad", headers=api.auth).json()["used_by"] == ["p1", "p2"]
    renamed = api.client.patch(f"{L}/bad", json={"name": "worse"}, headers=api.auth)
    assert renamed.status_code == 409
    assert api.client.delete(f"{L}/bad2", headers=api.auth).status_code == 204, "$bad2 is not $bad"
    for name in ("p1", "p2"):
        api.client.delete(f"/api/v1/policies/{name}", headers=api.auth)
    assert api.client.patch(f"{L}/bad", json={"name": "worse"}, headers=api.auth).status_code == 200
    assert api.client.delete(f"{L}/worse", headers=api.auth).status_code == 204
    with api.plane.db.session() as s:
        actions = [e.action for e in s.query(AuditEvent).filter_by(resource_type="list")]
    assert actions.count("list.delete") == 2 and "list.update" in actions


def test_url_list_refresh_ok_unchanged_failed(
    api: Api, list_server: ListServer, refresher: ListRefreshRunner
) -> None:
    list_server.files["/block.txt"] = (200, b"0.0.0.0 ads.test\n0.0.0.0 tracker.test\n")
    created = api.client.post(
        L,
        json={
            "name": "remote",
            "kind": "domain",
            "url": list_server.url("/block.txt"),
            "refresh": "1h",
        },
        headers=api.auth,
    )
    assert created.status_code == 201, created.text
    assert (created.json()["source"], created.json()["refresh_seconds"]) == ("url", 3600)
    assert created.json()["last_refresh_status"] == "never"
    before = _version(api)
    done = api.client.post(f"{L}/remote/refresh", headers=api.auth)
    assert done.status_code == 200, done.text
    assert (done.json()["entries"], done.json()["last_refresh_status"]) == (2, "ok")
    assert _version(api) == before + 1
    again = api.client.post(f"{L}/remote/refresh", headers=api.auth).json()
    assert again["last_refresh_status"] == "unchanged" and _version(api) == before + 1
    list_server.files["/block.txt"] = (500, b"oops")
    failed = api.client.post(f"{L}/remote/refresh", headers=api.auth).json()
    assert failed["last_refresh_status"] == "failed" and "500" in failed["last_refresh_error"]
    assert failed["entries"] == 2, "the last good copy stays"
    assert (
        api.client.put(f"{L}/remote/entries", json=["a.test"], headers=api.auth).status_code == 409
    )
    inline = api.client.post(L, json={"name": "inline", "kind": "domain"}, headers=api.auth)
    assert inline.status_code == 201
    assert api.client.post(f"{L}/inline/refresh", headers=api.auth).status_code == 409
    with api.plane.db.session() as s:
        refreshes = s.query(AuditEvent).filter_by(action="list.refresh").all()
    assert len(refreshes) == 1 and refreshes[0].actor.startswith("token:")


async def test_runner_refreshes_on_schedule_and_restarts_from_cache(
    api: Api, list_server: ListServer, tmp_path: Path
) -> None:
    db = api.plane.db
    list_server.files["/l.txt"] = (200, b"a.test\nb.test\n")
    api.client.post(
        L,
        json={"name": "remote", "kind": "domain", "url": list_server.url("/l.txt")},
        headers=api.auth,
    )
    cache = tmp_path / "cache"
    runner = ListRefreshRunner(db, cache, poll_interval=0.2)
    await runner.start()
    try:
        for _ in range(100):
            got = api.client.get(f"{L}/remote", headers=api.auth).json()
            if got["entries"] == 2:
                break
            await asyncio.sleep(0.05)
        assert got["entries"] == 2 and got["last_refresh_status"] == "ok"
    finally:
        await runner.stop()
    assert len(list_server.gets) == 1
    snapshot = await asyncio.to_thread(build_snapshot, db)
    assert snapshot.gateway.lists == {}, "not used by any policy: not loaded"

    # The store loses the entries (say, a restored backup); the list host is down. A new
    # runner puts the cached copy back at once, without a download.
    with db.transaction() as s:
        row = policy_lists.get(s, "remote")
        policy_lists.set_entries(s, row, [])
    list_server.files["/l.txt"] = (503, b"down")
    runner = ListRefreshRunner(db, cache, poll_interval=0.2)
    await runner.start()
    try:
        for _ in range(100):
            if api.client.get(f"{L}/remote", headers=api.auth).json()["entries"] == 2:
                break
            await asyncio.sleep(0.05)
        assert api.client.get(f"{L}/remote", headers=api.auth).json()["entries"] == 2
        await asyncio.sleep(0.5)
    finally:
        await runner.stop()
    assert len(list_server.gets) == 1, "a fresh cached copy is not downloaded again"


@pytest.mark.slow
def test_a_million_entries_through_the_api_into_a_snapshot(api: Api) -> None:
    names = [
        f"h{j:03d}x{i:03d}.site{(i * 7 + j) % 997}.test" for i in range(1000) for j in range(1000)
    ]
    data = ("\n".join(names) + "\n").encode()
    api.client.post(L, json={"name": "million", "kind": "domain"}, headers=api.auth)
    api.client.post(
        "/api/v1/policies",
        json={
            "name": "m",
            "phase": "dns",
            "action": "block",
            "expression": "any(dns.domains[*] in $million)",
        },
        headers=api.auth,
    )
    DEFAULT_CACHE.clear()  # measure a cold start, whatever earlier tests compiled
    t0 = time.perf_counter()
    upload = api.client.post(f"{L}/million/uploads", headers=api.auth).json()
    step = upload["max_part_bytes"]
    for seq, start in enumerate(range(0, len(data), step)):
        part = data[start : start + step]
        response = api.client.put(
            f"{L}/million/uploads/{upload['id']}/parts/{seq}", content=part, headers=api.auth
        )
        assert response.status_code == 204
    committed = api.client.post(f"{L}/million/uploads/{upload['id']}/commit", headers=api.auth)
    assert committed.status_code == 200, committed.text
    assert committed.json()["entries"] == 1_000_000
    t1 = time.perf_counter()
    snapshot = build_snapshot(api.plane.db)
    t2 = time.perf_counter()
    gateway = snapshot.gateway
    assert len(gateway.lists["million"]) == 1_000_000
    hit = gateway.policies.evaluate(Context.DNS, dns_request("www." + names[123_456]))
    assert hit.action == "block"
    assert gateway.policies.evaluate(Context.DNS, dns_request("not.listed.test")).action == "allow"
    # An unrelated change does not recompile the million entries.
    api.client.post("/api/v1/tokens", json={"name": "unrelated"}, headers=api.auth)
    t3 = time.perf_counter()
    again = build_snapshot(api.plane.db)
    t4 = time.perf_counter()
    assert again.gateway is gateway
    print(
        f"\n1,000,000 entries: upload+commit {t1 - t0:.1f} s, snapshot {t2 - t1:.1f} s, "
        f"snapshot after an unrelated change {t4 - t3:.2f} s"
    )
    assert t2 - t0 < 30.0
    assert t4 - t3 < 1.0
    cache = GatewayCache()
    with api.plane.db.session() as s:
        t5 = time.perf_counter()
        build_gateway(s, cache)
        print(f"cold compile from the store: {time.perf_counter() - t5:.1f} s")


def test_a_new_format_reparses_the_cached_download(
    api: Api, list_server: ListServer, refresher: ListRefreshRunner
) -> None:
    list_server.files["/mixed.txt"] = (200, b"||ads.test^\nplain.test\n")
    body = {"name": "mixed", "kind": "domain", "url": list_server.url("/mixed.txt")}
    api.client.post(L, json={**body, "format": "plain"}, headers=api.auth)
    first = api.client.post(f"{L}/mixed/refresh", headers=api.auth).json()
    assert first["entries"] == 1, "plain format: the adblock rule is not an entry"
    patched = api.client.patch(f"{L}/mixed", json={"format": "adblock"}, headers=api.auth)
    assert patched.status_code == 200
    again = api.client.post(f"{L}/mixed/refresh", headers=api.auth).json()
    assert again["entries"] == 2 and again["last_refresh_status"] == "unchanged"
    assert len(list_server.gets) == 2, "the second GET was conditional (304)"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
_BODIES = st.one_of(
    _JSON,
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["f", "f.x", "$f", ""]),
            "kind": st.sampled_from(["domain", "ip", "url", "email", "x"]),
        },
        optional={
            "entries": st.lists(st.text(max_size=30), max_size=5),
            "url": st.text(max_size=30),
            "refresh": _JSON,
            "format": st.text(max_size=8),
        },
    ),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=_BODIES,
    text=st.binary(max_size=300),
    fmt=st.sampled_from(["auto", "plain", "hosts", "adblock", "x"]),
)
def test_random_list_bodies_never_fail_with_5xx(api: Api, body: Any, text: bytes, fmt: str) -> None:
    created = api.client.post(L, json=body, headers=api.auth)
    assert created.status_code in (201, 409, 422), created.text
    if created.status_code == 201:
        name = created.json()["name"]
        put = api.client.put(
            f"{L}/{name}/entries?format={fmt}",
            content=text,
            headers={**api.auth, "Content-Type": "text/plain"},
        )
        assert put.status_code in (200, 409, 422), put.text
        assert api.client.delete(f"{L}/{name}", headers=api.auth).status_code == 204
