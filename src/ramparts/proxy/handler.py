"""One client connection of the forward proxy: endpoint, user, policy, then the exchange.

For each request: find the endpoint (the TLS listener's SNI ``<id>.…``, the endpoint of a
proxy token, or the source-IP endpoint of the client's address), identify the user on
authorization endpoints, apply the HTTP policies, check the destination (private addresses,
the proxy itself), and then forward an ``http://`` request, open a CONNECT tunnel (spliced in
the kernel, or inspected with a minted certificate), or answer from the proxy (PAC files,
block pages, refusals). Nothing reaches a destination before every check passed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ramparts.aio.http1 import Http1Channel, PeerClosed
from ramparts.config.proxy import EndpointKind, ProxyEndpointEntry
from ramparts.http1 import (
    Data,
    EndOfMessage,
    RemoteProtocolError,
    Request,
    ServerConnection,
    TargetForm,
    error_response,
    get_header,
    split_absolute,
    split_authority,
)
from ramparts.policy import http_request
from ramparts.proxy.context import ProxyContext
from ramparts.proxy.destination import DestinationError, parse_literal
from ramparts.proxy.exchange import Exchange, InspectedTarget, ProxyState, Refusal
from ramparts.proxy.forward import forward
from ramparts.proxy.identify import CredentialError, ProxyUser, token_entry, token_user
from ramparts.proxy.pages import (
    Page,
    block_page,
    error_page,
    proxy_auth_page,
    redirect_page,
    text_page,
)
from ramparts.proxy.tunnel import open_tunnel
from ramparts.proxy.verdict import Verdict

log = logging.getLogger(__name__)

Channel = Http1Channel[ServerConnection]
PAC_PREFIX = b"/pac/"
PAC_SUFFIX = b".pac"
_URL_KEYS = (
    "http.request.uri",
    "http.request.uri.path",
    "http.request.uri.query",
    "http.request.uri#list",
)
MAX_DISCARD = 1024 * 1024  # request body bytes read and dropped to keep a connection usable


class ProxyConnection:
    """Serves the requests of one client connection until it closes."""

    def __init__(
        self,
        ctx: ProxyContext,
        channel: Channel,
        *,
        tls_name: str | None,
        state: Callable[[], ProxyState],
    ) -> None:
        self.ctx = ctx
        self.channel = channel
        self.tls_name = tls_name  # SNI on the TLS listener
        self._state = state
        self.inspected: InspectedTarget | None = None  # inside an opened-up tunnel

    async def serve(self) -> None:
        channel = self.channel
        loop = asyncio.get_running_loop()
        limits = self.ctx.limits
        first = True
        try:
            while True:
                timeout = limits.head_timeout if first else limits.idle_timeout
                try:
                    event = await channel.next_event(loop.time() + timeout)
                except TimeoutError:
                    return
                if type(event) is EndOfMessage:
                    continue
                if type(event) is not Request:
                    return
                first = False
                if not await self._exchange(event):
                    return
                if channel.h1.must_close or self.ctx.draining:
                    return
        except RemoteProtocolError as exc:
            page = error_page(exc.status_code, "Bad request", str(exc))
            self._count_refusal(page.status, "error")
            self._write_page(page)
        except (PeerClosed, OSError):
            pass
        finally:
            channel.close()

    # -- one request -----------------------------------------------------------------------

    async def _exchange(self, request: Request) -> bool:
        state = self._state()
        ex = Exchange(time.monotonic(), self.channel.peer, method=request.method.decode())
        try:
            if self.inspected is not None:
                return await self._inspected(request, state, ex, self.inspected)
            if request.form is TargetForm.ORIGIN:
                return await self._local(request, state, ex)
            if request.form is TargetForm.ASTERISK:
                raise Refusal(error_page(400, "Bad request", "Not a proxy request."), "error")
            ex.endpoint = endpoint = self._endpoint(request, state)
            ex.user = await self._user(request, state, endpoint, ex)
            if request.method == b"CONNECT":
                return await self._connect(request, state, ex)
            return await self._forward(request, state, ex)
        except Refusal as refusal:
            ex.decision = refusal.decision
            ex.status = refusal.page.status
            keep = await self._answer(request, refusal.page)
            self.ctx.log.add(ex.record())
            return keep
        except DestinationError as exc:
            ex.decision = exc.decision
            ex.status = exc.status
            keep = await self._answer(request, error_page(exc.status, exc.title, exc.text))
            self.ctx.log.add(ex.record())
            return keep

    def _endpoint(self, request: Request, state: ProxyState) -> ProxyEndpointEntry:
        """The endpoint serving this request; a Refusal (403) when none does."""
        config = state.snapshot.proxy
        if self.tls_name:
            found = config.endpoints.get(self.tls_name.split(".", 1)[0])
            if found is not None:
                return found
        credentials = get_header(request.headers, b"proxy-authorization")
        if credentials is not None:
            try:
                entry = token_entry(config, credentials, time.time())
            except CredentialError:
                entry = None
            found = config.endpoints.get(entry.endpoint_id) if entry is not None else None
            if found is not None:
                return found
        ip = parse_literal(self.channel.peer)
        found = config.endpoint_for_source(ip) if ip is not None else None
        if found is not None:
            return found
        authorization = config.authorization_endpoints()
        if authorization:
            return authorization[0]  # identify the user first (407 or a login)
        raise Refusal(
            error_page(
                403,
                "Not allowed",
                f"{self.channel.peer} is not in the networks of any proxy endpoint.",
            ),
            "deny",
        )

    async def _user(
        self, request: Request, state: ProxyState, endpoint: ProxyEndpointEntry, ex: Exchange
    ) -> ProxyUser | None:
        """The user on an authorization endpoint; a Refusal (407, or a login redirect for a
        browser's page load) when unknown."""
        if endpoint.kind is not EndpointKind.AUTHORIZATION:
            return None
        credentials = get_header(request.headers, b"proxy-authorization")
        if credentials is not None:
            try:
                entry = token_entry(state.snapshot.proxy, credentials, time.time())
                if entry.endpoint_id != endpoint.id:
                    raise CredentialError("the token belongs to another endpoint")
            except CredentialError as exc:
                raise Refusal(proxy_auth_page(endpoint.name, None, str(exc)), "auth") from None
            return token_user(entry)
        user = await self.ctx.sessions.lookup(endpoint.id, self.channel.peer)
        if user is not None:
            return user
        back = request.target.decode("latin-1") if request.form is TargetForm.ABSOLUTE else ""
        login = self.ctx.login_url(state.snapshot, endpoint, self.channel.peer, back)
        if login is not None and back and _is_browser_navigation(request):
            raise Refusal(redirect_page(login), "auth")
        raise Refusal(proxy_auth_page(endpoint.name, login), "auth")

    # -- local answers (PAC files) -------------------------------------------------------------

    async def _local(self, request: Request, state: ProxyState, ex: Exchange) -> bool:
        target = request.target.split(b"?", 1)[0]
        if target.startswith(PAC_PREFIX) and target.endswith(PAC_SUFFIX):
            endpoint_id = target[len(PAC_PREFIX) : -len(PAC_SUFFIX)].decode("latin-1")
            endpoint = state.snapshot.proxy.endpoints.get(endpoint_id)
            if endpoint is not None and request.method in (b"GET", b"HEAD"):
                host = get_header(request.headers, b"host")
                body = self.ctx.pac(state.snapshot, endpoint, host).encode("utf-8")
                page = text_page(200, body, b"application/x-ns-proxy-autoconfig")
                return await self._answer(request, page)
        if target == b"/health":
            return await self._answer(request, text_page(200, b"ok\n", b"text/plain"))
        page = error_page(
            400 if request.form is TargetForm.ORIGIN and target == b"/" else 404,
            "Not a proxy request",
            "This is a forward proxy: configure it in your browser (PAC file) or client.",
        )
        return await self._answer(request, page)

    # -- plain HTTP ----------------------------------------------------------------------------

    async def _forward(self, request: Request, state: ProxyState, ex: Exchange) -> bool:
        scheme, authority, path = split_absolute(request.target)
        if scheme != b"http":
            raise Refusal(
                error_page(400, "Bad request", "Only http:// URLs are forwarded; use CONNECT."),
                "error",
            )
        host_b, port = split_authority(authority)
        host = host_b.decode("idna" if host_b.startswith(b"xn--") else "latin-1").strip("[]")
        port = port or 80
        if not host:
            raise Refusal(error_page(400, "Bad request", "The URL has no host."), "error")
        ex.host = host
        ex.url = request.target.decode("latin-1")
        verdict = state.policies.decide(self.policy_request(ex, port, method=ex.method))
        ex.verdict = verdict
        self._apply(verdict, ex)
        return await forward(self, request, ex, host, port, path, state)

    async def _inspected(
        self, request: Request, state: ProxyState, ex: Exchange, target: InspectedTarget
    ) -> bool:
        """A request inside an inspected tunnel: judged by its full https:// URL."""
        if request.form is not TargetForm.ORIGIN:
            raise Refusal(
                error_page(400, "Bad request", "Expected an origin-form request."), "error"
            )
        ex.kind = "inspected"
        ex.endpoint, ex.user = target.endpoint, target.user
        ex.host = target.host
        port_part = "" if target.port == 443 else f":{target.port}"
        ex.url = f"https://{target.host}{port_part}{request.target.decode('latin-1')}"
        verdict = state.policies.decide(self.policy_request(ex, target.port, method=ex.method))
        ex.verdict = verdict
        self._apply(verdict, ex)
        return await forward(
            self,
            request,
            ex,
            target.host,
            target.port,
            request.target,
            state,
            tls_to=target.addresses,
        )

    def _apply(self, verdict: Verdict, ex: Exchange) -> None:
        """Raise the refusal a blocking or redirecting verdict asks for."""
        if verdict.action == "block":
            page = block_page(ex.host, ex.url, verdict.policy_name, verdict.setting("block_reason"))
            raise Refusal(page, "block")
        if verdict.action == "redirect":
            target = verdict.setting("redirect_url")
            if target:
                raise Refusal(redirect_page(target), "redirect")

    def policy_request(
        self, ex: Exchange, port: int, *, method: str, content_type: str | None = None
    ) -> dict[str, object]:
        connect = ex.kind == "connect"
        r = http_request(
            ex.host if connect else ex.url,
            method,
            src_ip=ex.src_ip or None,
            dst_port=port,
            content_type=content_type,
            endpoint=ex.endpoint.id if ex.endpoint else None,
            identity=ex.user.identity if ex.user else None,
        )
        if connect:  # only the host is known before a tunnel opens: no URL, path or query
            for key in _URL_KEYS:
                r.pop(key, None)
        return r

    # -- CONNECT -------------------------------------------------------------------------------

    async def _connect(self, request: Request, state: ProxyState, ex: Exchange) -> bool:
        ex.kind = "connect"
        host_b, port = split_authority(request.target)
        host = host_b.decode("latin-1").strip("[]")
        if not host or port is None:
            raise Refusal(error_page(400, "Bad request", "CONNECT needs host:port."), "error")
        ex.host = host
        ex.url = f"{host}:{port}"
        endpoint = ex.endpoint
        assert endpoint is not None
        if port not in endpoint.connect_ports:
            raise Refusal(
                error_page(
                    403,
                    "Port not allowed",
                    f"This proxy endpoint does not open tunnels to port {port}.",
                ),
                "deny",
            )
        policy_request = self.policy_request(ex, port, method="CONNECT")
        verdict = state.policies.do_not_inspect(policy_request)
        if verdict is None:
            verdict = state.policies.decide(policy_request)
        ex.verdict = verdict
        self._apply(verdict, ex)
        inspect = endpoint.tls_inspection and verdict.action != "do_not_inspect"
        ex.decision = verdict.action
        return await open_tunnel(self, request, ex, host, port, state, inspect=inspect)

    # -- answering -----------------------------------------------------------------------------

    async def _answer(self, request: Request, page: Page) -> bool:
        """Send a page as the response; False when the connection must close afterwards."""
        h1 = self.channel.h1
        keep = request.content_length == 0 or request.method == b"CONNECT"
        if not keep:
            keep = await _discard_body(self.channel)
        headers = page.head_fields()
        if not keep or request.method == b"CONNECT":
            headers.append((b"connection", b"close"))
            keep = False
        body = page.body if request.method != b"HEAD" else b""
        head = h1.send_response(page.status, headers)
        self.channel.write(head + h1.send_data(body) + h1.send_end())
        return keep and not h1.must_close

    def _write_page(self, page: Page) -> None:
        """A page on a connection whose parser failed: no exchange state to follow."""
        self.channel.write(error_response(page.status, page.body))

    def _count_refusal(self, status: int, decision: str) -> None:
        ex = Exchange(time.monotonic(), self.channel.peer, decision=decision, status=status)
        self.ctx.log.add(ex.record())


def _is_browser_navigation(request: Request) -> bool:
    if request.method != b"GET":
        return False
    accept = get_header(request.headers, b"accept") or b""
    return b"text/html" in accept


async def _discard_body(channel: Channel) -> bool:
    seen = 0
    while True:
        event = await channel.next_event()
        if type(event) is Data:
            seen += len(event.data)
            if seen > MAX_DISCARD:
                return False
            continue
        return type(event) is EndOfMessage


__all__ = ["ProxyConnection"]
