"""The forward proxy with real curl against a recording origin: every refusal is asserted at
the origin (nothing arrived) as well as at the client."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.proxy_stack import (
    Stack,
    curl,
    endpoint,
    http_rule,
    proxy_stack,
    snapshot,
)
from ramparts.config.proxy import EndpointKind, ProxyTokenEntry
from ramparts.proxy.context import ProxyLimits

ORIGIN_NAME = "origin.test"


async def test_plain_http_reaches_origin_without_proxy_credentials(tmp_path: Path) -> None:
    async with proxy_stack(tmp_path, snapshot([endpoint()])) as stack:
        url = f"http://127.0.0.1:{stack.origin.port}/hello"
        code, out, _ = await curl(
            "-i", "--proxy", f"http://{stack.proxy}", "-H", "Proxy-Authorization: Basic eDp5", url
        )
        assert code == 0
        assert out.startswith(b"HTTP/1.1 200")
        assert out.endswith(b"hello from origin /hello")
        [seen] = stack.origin.requests
        assert seen.request_line == b"GET /hello HTTP/1.1"  # origin-form towards the origin
        assert seen.header(b"proxy-authorization") is None
        assert seen.header(b"via") is not None


async def test_block_page_and_the_origin_sees_nothing(tmp_path: Path) -> None:
    rules = [
        http_rule(
            "no-secret",
            'http.request.uri.path matches "^/secret"',
            "block",
            1,
            block_reason="secrets stay home",
        )
    ]
    async with proxy_stack(tmp_path, snapshot([endpoint()], rules)) as stack:
        url = f"http://127.0.0.1:{stack.origin.port}/secret/file"
        code, out, _ = await curl("-i", "--proxy", f"http://{stack.proxy}", url)
        assert code == 0
        assert out.startswith(b"HTTP/1.1 403")
        assert b"This site is blocked" in out
        assert b"secrets stay home" in out
        assert stack.origin.requests == []
        # the next request on another path is fine
        code, out, _ = await curl(
            "--proxy", f"http://{stack.proxy}", f"http://127.0.0.1:{stack.origin.port}/public"
        )
        assert out == b"hello from origin /public"


async def test_redirect_policy(tmp_path: Path) -> None:
    rules = [
        http_rule(
            "moved",
            'http.request.uri.path == "/old"',
            "redirect",
            1,
            redirect_url="https://example.com/new",
        )
    ]
    async with proxy_stack(tmp_path, snapshot([endpoint()], rules)) as stack:
        _code, out, _ = await curl(
            "-i", "--proxy", f"http://{stack.proxy}", f"http://127.0.0.1:{stack.origin.port}/old"
        )
        assert out.startswith(b"HTTP/1.1 302")
        assert b"location: https://example.com/new" in out
        assert stack.origin.requests == []


async def test_response_content_type_policy(tmp_path: Path) -> None:
    rules = [
        http_rule("no-exe", 'http.response.content_type == "application/x-msdownload"', "block", 1)
    ]
    async with proxy_stack(tmp_path, snapshot([endpoint()], rules)) as stack:
        base = f"http://127.0.0.1:{stack.origin.port}"
        _, out, _ = await curl(
            "-i", "--proxy", f"http://{stack.proxy}", f"{base}/type/application_x-msdownload"
        )
        assert out.startswith(b"HTTP/1.1 403")
        _, out, _ = await curl("--proxy", f"http://{stack.proxy}", f"{base}/type/text_html")
        assert out == b"hello from origin /type/text_html"


async def test_not_in_any_endpoint_is_403_never_an_open_proxy(tmp_path: Path) -> None:
    snap = snapshot([endpoint(networks=("10.0.0.0/8",))])
    async with proxy_stack(tmp_path, snap) as stack:
        _, out, _ = await curl(
            "-i", "--proxy", f"http://{stack.proxy}", f"http://127.0.0.1:{stack.origin.port}/"
        )
        assert out.startswith(b"HTTP/1.1 403")
        code, _, _ = await curl(
            "--proxy", f"http://{stack.proxy}", f"https://127.0.0.1:{stack.origin.port}/"
        )
        assert code != 0
        assert stack.origin.requests == []
        assert stack.origin.connections == 0


async def test_private_destinations_refused_by_default(tmp_path: Path) -> None:
    async with proxy_stack(tmp_path, snapshot([endpoint(private=False)])) as stack:
        _, out, _ = await curl(
            "-i", "--proxy", f"http://{stack.proxy}", f"http://127.0.0.1:{stack.origin.port}/"
        )
        assert out.startswith(b"HTTP/1.1 403")
        assert b"private or local" in out
        _, out, _ = await curl(
            "-i",
            "--proxy",
            f"http://{stack.proxy}",
            f"http://[::ffff:127.0.0.1]:{stack.origin.port}/",
        )
        assert out.startswith(b"HTTP/1.1 403")
        assert stack.origin.connections == 0


async def test_request_to_the_proxy_itself_is_a_loop(tmp_path: Path) -> None:
    async with proxy_stack(tmp_path, snapshot([endpoint(ports=(443,))])) as stack:
        _, out, _ = await curl("-i", "--proxy", f"http://{stack.proxy}", f"http://{stack.proxy}/x")
        assert out.startswith(b"HTTP/1.1 508")


async def test_connect_spliced_to_a_tls_origin(tmp_path: Path) -> None:
    async with proxy_stack(tmp_path, snapshot([endpoint()]), origin_tls=True) as stack:
        port = stack.origin.port  # known once started: let CONNECT reach it
        stack.service.apply(snapshot([endpoint(ports=(port,))]))
        stack.service.ctx.resolver = _StaticResolver()  # type: ignore[assignment]
        code, out, err = await curl(
            "--proxy",
            f"http://{stack.proxy}",
            "--cacert",
            str(stack.ca_file),
            f"https://{ORIGIN_NAME}:{port}/tls",
        )
        assert code == 0, err
        assert out == b"hello from origin /tls"
        big = 3 * 1024 * 1024
        code, out, err = await curl(
            "--proxy",
            f"http://{stack.proxy}",
            "--cacert",
            str(stack.ca_file),
            f"https://{ORIGIN_NAME}:{port}/big/{big}",
        )
        assert code == 0, err
        assert len(out) == big


async def test_connect_port_not_allowed(tmp_path: Path) -> None:
    async with proxy_stack(tmp_path, snapshot([endpoint(ports=(443,))]), origin_tls=True) as st:
        code, _, err = await curl(
            "--proxy",
            f"http://{st.proxy}",
            "--cacert",
            str(st.ca_file),
            f"https://127.0.0.1:{st.origin.port}/",
        )
        assert code != 0
        assert b"403" in err
        assert st.origin.connections == 0


async def test_connect_blocked_by_host_policy(tmp_path: Path) -> None:
    rules = [http_rule("no-loopback", 'http.request.host == "127.0.0.1"', "block", 1)]
    async with proxy_stack(tmp_path, snapshot([endpoint()], rules), origin_tls=True) as st:
        st.service.apply(snapshot([endpoint(ports=(st.origin.port,))], rules))
        code, _, err = await curl(
            "--proxy",
            f"http://{st.proxy}",
            "--cacert",
            str(st.ca_file),
            f"https://127.0.0.1:{st.origin.port}/",
        )
        assert code != 0
        assert b"403" in err
        assert st.origin.connections == 0


async def test_https_proxy_listener(tmp_path: Path) -> None:
    async with proxy_stack(tmp_path, snapshot([endpoint()])) as st:
        code, out, err = await curl(
            "--proxy",
            f"https://{st.proxy_tls}",
            "--proxy-cacert",
            str(st.ca_file),
            f"http://127.0.0.1:{st.origin.port}/over-tls",
        )
        assert code == 0, err
        assert out == b"hello from origin /over-tls"


async def test_authorization_endpoint_tokens(tmp_path: Path) -> None:
    auth = endpoint("auth1", kind=EndpointKind.AUTHORIZATION)
    tokens = {
        "rpx_alice": ProxyTokenEntry("t1", "auth1", "alice@example.com", ("eng",), None),
        "rpx_old": ProxyTokenEntry("t2", "auth1", "old@example.com", (), 1.0),
    }
    rules = [
        http_rule("no-bob", 'identity.email == "bob@example.com"', "block", 1),
        http_rule(
            "eng-only",
            'http.request.uri.path == "/eng" and not any(identity.groups[*] == "eng")',
            "block",
            2,
        ),
    ]
    tokens["rpx_bob"] = ProxyTokenEntry("t3", "auth1", "bob@example.com", (), None)
    async with proxy_stack(tmp_path, snapshot([auth], rules, tokens)) as st:
        url = f"http://127.0.0.1:{st.origin.port}/eng"
        _, out, _ = await curl("-i", "--proxy", f"http://{st.proxy}", url)
        assert out.startswith(b"HTTP/1.1 407")
        assert b"proxy-authenticate: Basic" in out
        _, out, _ = await curl(
            "-i", "--proxy", f"http://{st.proxy}", "--proxy-user", "alice@example.com:wrong", url
        )
        assert out.startswith(b"HTTP/1.1 407")
        _, out, _ = await curl(
            "-i", "--proxy", f"http://{st.proxy}", "--proxy-user", "old@example.com:rpx_old", url
        )
        assert out.startswith(b"HTTP/1.1 407")
        assert b"expired" in out
        assert st.origin.requests == []
        _, out, _ = await curl(
            "-i",
            "--proxy",
            f"http://{st.proxy}",
            "--proxy-user",
            "alice@example.com:rpx_alice",
            url,
        )
        assert out.startswith(b"HTTP/1.1 200")
        _, out, _ = await curl(
            "-i", "--proxy", f"http://{st.proxy}", "-H", "Proxy-Authorization: Bearer rpx_bob", url
        )
        assert out.startswith(b"HTTP/1.1 403")
        assert len(st.origin.requests) == 1


async def test_tls_inspection_applies_url_rules_and_do_not_inspect_wins(tmp_path: Path) -> None:
    rules = [
        http_rule("no-secret", 'http.request.uri.path == "/secret"', "block", 2),
    ]
    dni = [http_rule("trust", 'http.request.host == "origin.test"', "do_not_inspect", 1), *rules]
    async with proxy_stack(tmp_path, snapshot([endpoint()]), origin_tls=True) as st:
        port = st.origin.port
        st.service.apply(snapshot([endpoint(ports=(port,), inspect=True)], rules))
        args = [
            "--proxy",
            f"http://{st.proxy}",
            "--cacert",
            str(st.ca_file),
            "--proxy-header",
            "X-Test: 1",
        ]
        st.service.ctx.resolver = _StaticResolver()
        code, out, err = await curl(*args, f"https://{ORIGIN_NAME}:{port}/open")
        assert code == 0, err
        assert out == b"hello from origin /open"
        code, out, err = await curl(*args, "-i", f"https://{ORIGIN_NAME}:{port}/secret")
        assert b"\r\n\r\nHTTP/1.1 403" in out, err  # after the CONNECT 200
        assert [r.request_line for r in st.origin.requests] == [b"GET /open HTTP/1.1"]
        st.service.apply(snapshot([endpoint(ports=(port,), inspect=True)], dni))
        code, out, err = await curl(*args, f"https://{ORIGIN_NAME}:{port}/secret")
        assert code == 0, err
        assert out == b"hello from origin /secret"  # not inspected: path rules cannot apply


class _StaticResolver:
    async def resolve(self, host: str, port: int) -> list[object]:
        import ipaddress

        return [ipaddress.ip_address("127.0.0.1")]


async def test_pac_file_is_served(tmp_path: Path) -> None:
    async with proxy_stack(tmp_path, snapshot([endpoint()])) as st:
        _, out, _ = await curl("-i", f"http://{st.proxy}/pac/ep1.pac")
        assert out.startswith(b"HTTP/1.1 200")
        assert b"application/x-ns-proxy-autoconfig" in out
        assert b"FindProxyForURL" in out
        _, out, _ = await curl("-i", f"http://{st.proxy}/pac/nope.pac")
        assert out.startswith(b"HTTP/1.1 404")


async def raw_exchange(address: str, data: bytes) -> bytes:
    """Send ``data``, half-close, and read the whole answer."""
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(data)
    await writer.drain()
    writer.write_eof()
    try:
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def test_smuggling_and_malformed_heads_are_refused(tmp_path: Path) -> None:
    async with proxy_stack(tmp_path, snapshot([endpoint()])) as st:
        url = f"http://127.0.0.1:{st.origin.port}/"
        smuggle = (
            f"POST {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        ).encode()
        assert (await raw_exchange(st.proxy, smuggle)).startswith(b"HTTP/1.1 400")
        assert (await raw_exchange(st.proxy, b"GET\r\n\r\n")).startswith(b"HTTP/1.1 400")
        big = f"GET {url} HTTP/1.1\r\nHost: x\r\nX: {'a' * 40000}\r\n\r\n".encode()
        assert (await raw_exchange(st.proxy, big)).startswith(b"HTTP/1.1 431")
        assert st.origin.requests == []


@pytest.fixture(scope="module")
def background_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, asyncio.AbstractEventLoop]]:
    """One proxy on a loop in a thread, for the fuzz examples (hypothesis runs sync)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    limits = ProxyLimits(head_timeout=2.0, idle_timeout=2.0, connect_timeout=2.0)
    manager = proxy_stack(tmp_path_factory.mktemp("fuzz"), snapshot([endpoint()]), limits=limits)
    stack = asyncio.run_coroutine_threadsafe(manager.__aenter__(), loop).result(30)
    try:
        yield stack, loop
    finally:
        asyncio.run_coroutine_threadsafe(manager.__aexit__(None, None, None), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=st.binary(min_size=1, max_size=600),
    prefix=st.sampled_from(
        [b"", b"GET http://127.0.0.1:1/ HTTP/1.1\r\n", b"CONNECT 127.0.0.1:443 HTTP/1.1\r\n"]
    ),
)
def test_fuzzed_input_never_crashes_the_proxy(
    background_stack: tuple[Stack, asyncio.AbstractEventLoop], data: bytes, prefix: bytes
) -> None:
    stack, loop = background_stack

    async def run() -> None:
        answer = await raw_exchange(stack.proxy, prefix + data)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 ")
        _, out, _ = await raw_pac(stack.proxy)
        assert b"FindProxyForURL" in out

    asyncio.run_coroutine_threadsafe(run(), loop).result(30)


async def raw_pac(address: str) -> tuple[int, bytes, bytes]:
    answer = await raw_exchange(address, b"GET /pac/ep1.pac HTTP/1.1\r\nHost: x\r\n\r\n")
    return 0, answer, b""
