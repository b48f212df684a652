"""A whole Access stack on loopback for tests: store, TLS listener (uvicorn through
``ramparts.serving.AsgiServer``) running the gate in front of a recording origin, the team
pages, a real OIDC provider process (``oidc-provider-mock``) and a real SMTP sink (aiosmtpd).

Browsers are httpx clients whose connections to ``*.localhost`` go to the listener with the
right SNI, so cookies, hosts and redirects behave as for a browser on ``*.localhost``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import ssl
import subprocess
import sys
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from harness.net import free_port, wait_for_port
from ramparts.access.front import AccessFront
from ramparts.access.gate import AccessGate
from ramparts.access.login_store import DatabaseLoginStore
from ramparts.access.middleware import AccessMiddleware
from ramparts.access.team_app import TeamApp
from ramparts.config.snapshot import Snapshot, build_snapshot
from ramparts.pki.ca import TeamCA
from ramparts.pki.tls import write_certificate
from ramparts.serving import AsgiServer
from ramparts.store import Database
from ramparts.store.repositories import (
    access_apps,
    identity_providers,
    service_tokens,
    signing_keys,
    versions,
)
from ramparts.store.repositories import team as team_repo

TEAM = "acme.localhost"
OIDC_MOCK = str(Path(sys.executable).parent / "oidc-provider-mock")


class Clock:
    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


@dataclass
class OriginLog:
    requests: list[dict[str, Any]] = field(default_factory=list)


async def recording_origin(scope: Any, receive: Any, send: Any, log: OriginLog) -> None:
    """The application behind the tunnel: records what reached it."""
    headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
    log.requests.append({"path": scope["path"], "method": scope["method"], "headers": headers})
    body = json.dumps({"origin": "ok", "path": scope["path"]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def codes_for(self, address: str) -> list[str]:
        return [
            re.search(r"code is (\d{6})", m.get_payload())[1]  # type: ignore[index]
            for m in self.messages
            if m["To"] == address
        ]


class LoopbackTransport(httpx.AsyncBaseTransport):
    """Connects ``*.localhost:<port>`` to 127.0.0.1 with the hostname as SNI."""

    def __init__(self, port: int, context: ssl.SSLContext) -> None:
        self._port = port
        self._inner = httpx.AsyncHTTPTransport(verify=context)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.host.endswith("localhost") and url.port == self._port:
            moved = httpx.Request(
                request.method,
                url.copy_with(host="127.0.0.1"),
                headers=request.headers,
                stream=request.stream,
                extensions={**request.extensions, "sni_hostname": url.host},
            )
            return await self._inner.handle_async_request(moved)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass
class Stack:
    db: Database
    tmp: Path
    clock: Clock
    origin: OriginLog
    smtp: SmtpSink
    oidc_issuer: str
    port: int = 0
    snapshot: Snapshot | None = None
    ca_context: ssl.SSLContext | None = None
    team_app: TeamApp | None = None
    gate: AccessGate | None = None

    def refresh(self) -> Snapshot:
        self.snapshot = build_snapshot(self.db)
        return self.snapshot

    def current(self) -> Snapshot:
        assert self.snapshot is not None
        return self.snapshot

    def url(self, host: str, path: str = "/") -> str:
        return f"https://{host}:{self.port}{path}"

    def browser(self, **kw: Any) -> httpx.AsyncClient:
        assert self.ca_context is not None
        return httpx.AsyncClient(
            transport=LoopbackTransport(self.port, self.ca_context),
            headers={"Accept": "text/html,application/xhtml+xml", **kw.pop("headers", {})},
            timeout=20,
            **kw,
        )

    # -- configuration ---------------------------------------------------------------

    def add_app(self, name: str, domain: str, path: str = "", **kw: Any) -> str:
        with self.db.transaction() as s:
            signing_keys.ensure_current(s)
            app = access_apps.create_app(s, name=name, domain=domain, path=path, **kw)
            versions.bump(s)
            aud = app.aud
        self.refresh()
        return aud

    def add_policy(self, app: str, name: str, action: str, include: list[str], **kw: Any) -> None:
        with self.db.transaction() as s:
            row = access_apps.get_app(s, app)
            access_apps.create_policy(
                s,
                row,
                name=name,
                action=action,
                include=include,
                require=kw.get("require", []),
                exclude=kw.get("exclude", []),
            )
            versions.bump(s)
        self.refresh()

    def add_idp(self, name: str, kind: str, config: dict[str, Any], secret: str = "") -> str:
        with self.db.transaction() as s:
            idp = identity_providers.create(s, name=name, type=kind, config=config, secret=secret)
            versions.bump(s)
            idp_id = idp.id
        self.refresh()
        return idp_id

    def add_service_token(self, name: str) -> tuple[str, str]:
        with self.db.transaction() as s:
            issued = service_tokens.create(s, name, None)
            versions.bump(s)
            pair = (issued.token.client_id, issued.client_secret)
        self.refresh()
        return pair

    async def set_oidc_user(self, sub: str, claims: dict[str, Any]) -> None:
        async with httpx.AsyncClient() as client:
            r = await client.put(f"{self.oidc_issuer}/users/{sub}", json=claims)
            assert r.status_code == 204, r.text


def start_oidc_provider(tmp: Path, port: int) -> tuple[subprocess.Popen[bytes], Any]:
    """The OIDC provider as its own process (any client id/secret, users set over HTTP)."""
    log = (tmp / "oidc.log").open("wb")
    proc = subprocess.Popen(
        [OIDC_MOCK, "--port", str(port), "--host", "127.0.0.1"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return proc, log


async def start_stack(tmp: Path) -> tuple[Stack, list[Any]]:
    """The stack and the things to stop afterwards (see ``stop_stack``)."""
    db = Database(f"sqlite:///{tmp / 'store.db'}")
    db.migrate()
    ca = TeamCA.create("acme")
    with db.transaction() as s:
        team_repo.create(
            s,
            name="acme",
            domain=TEAM,
            ca_cert_pem=ca.cert_pem.decode(),
            ca_fingerprint=ca.fingerprint,
        )
        versions.ensure_row(s)
    cert, key = write_certificate(tmp, "edge", ca.issue_server_certificate([TEAM, f"*.{TEAM}"]))
    oidc_port = free_port()
    oidc, oidc_log = start_oidc_provider(tmp, oidc_port)
    smtp = SmtpSink()
    smtp_port = free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    clock = Clock()
    stack = Stack(db, tmp, clock, OriginLog(), smtp, f"http://127.0.0.1:{oidc_port}")
    stack.refresh()
    stack.smtp_port = smtp_port  # type: ignore[attr-defined]
    port = free_port()
    stack.port = port
    front = AccessFront(store=DatabaseLoginStore(db), clock=clock)
    front.start(port)
    stack.gate, stack.team_app = front.gate, front.team_app

    async def origin_app(scope: Any, receive: Any, send: Any) -> None:
        await recording_origin(scope, receive, send, stack.origin)

    front_app = AccessMiddleware(origin_app, front=front, snapshot=stack.current)
    server = AsgiServer("access-test", front_app, "127.0.0.1", port, certfile=cert, keyfile=key)
    await server.start()
    stack.ca_context = ssl.create_default_context(cadata=ca.cert_pem.decode())
    await asyncio.to_thread(wait_for_port, "127.0.0.1", oidc_port, 30)
    return stack, [server, controller, oidc, oidc_log]


async def stop_stack(stack: Stack, things: list[Any]) -> None:
    server, controller, oidc, oidc_log = things
    await server.stop()
    assert stack.team_app is not None
    await stack.team_app.aclose()
    controller.stop()
    oidc.terminate()
    oidc.wait(10)
    oidc_log.close()
    stack.db.dispose()
