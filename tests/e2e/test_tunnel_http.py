"""A real tunnel: `ramparts up`, `ramparts connector run`, origins on loopback, curl at the edge."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.net import free_port
from harness.procs import RampartsProcess, isolated_env, run_cli

pytestmark = pytest.mark.slow

TEAM = "acme.localhost"


class Origin(BaseHTTPRequestHandler):
    """An origin that shows what reached it (the point that must see the forwarding headers)."""

    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        Origin.seen.append(
            {
                "path": self.path,
                "headers": dict(self.headers.items()),
                "peer": self.client_address[0],
            }
        )
        if self.path.startswith("/sse"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.end_headers()  # no length: the edge relays it chunked, as it comes
            for i in range(3):
                self.wfile.write(f"data: event {i}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.3)
            self.close_connection = True
            return
        if self.path.startswith("/download/"):
            size = int(self.path.rsplit("/", 1)[1])
            self.send_response(200)
            self.send_header("content-length", str(size))
            self.end_headers()
            block = b"\xa5" * (1 << 20)
            left = size
            while left:
                n = min(left, len(block))
                self.wfile.write(block[:n])
                left -= n
            return
        body = json.dumps({"path": self.path, "headers": dict(self.headers.items())}).encode()
        self._reply(200, body)

    def _body(self) -> Iterator[bytes]:
        """The request body in pieces (Content-Length or chunked), never held whole."""
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return
                left = size
                while left:
                    piece = self.rfile.read(min(left, 1 << 20))
                    left -= len(piece)
                    yield piece
                self.rfile.readline()
        left = int(self.headers.get("content-length") or 0)
        while left:
            piece = self.rfile.read(min(left, 1 << 20))
            if not piece:
                return
            left -= len(piece)
            yield piece

    def do_POST(self) -> None:
        digest, total = hashlib.sha256(), 0
        for piece in self._body():
            total += len(piece)
            if not self.path.startswith("/sink"):  # the 1 GB upload is counted, not hashed
                digest.update(piece)
        result = (
            {"len": total}
            if self.path.startswith("/sink")
            else {"sha256": digest.hexdigest(), "len": total}
        )
        self._reply(200, json.dumps(result).encode())

    do_PUT = do_POST


@pytest.fixture(scope="module")
def origin() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def ws_origin() -> Iterator[int]:
    """A WebSocket echo server (the `websockets` library) in its own thread and loop."""
    from websockets.asyncio.server import serve

    port = free_port()
    loop = asyncio.new_event_loop()
    stop = loop.create_future()

    async def echo(connection: Any) -> None:
        async for message in connection:
            await connection.send(message)

    async def main() -> None:
        async with serve(echo, "127.0.0.1", port):
            await stop

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    yield port
    loop.call_soon_threadsafe(stop.set_result, None)
    thread.join(5)


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, origin: int, ws_origin: int
) -> Iterator[dict[str, Any]]:
    """One stack for the module (starting it costs seconds); the test that stops the
    connector runs last."""
    tmp_path = tmp_path_factory.mktemp("tunnel")
    user_env = isolated_env(tmp_path)
    up = RampartsProcess(
        [
            "up", "--json", "--team", "acme",
            "--data-dir", str(tmp_path / "data"),
            "--api-port", str(free_port()),
            "--https-port", str(free_port()),
            "--tunnel-port", str(free_port()),
            "--metrics-port", str(free_port()),
            "--dns-port", str(free_port()),
            "--dot-port", str(free_port()),
            "--doh-port", str(free_port()),
            "--proxy-port", "0", "--proxy-tls-port", "0",
        ],
        user_env,
        tmp_path / "up.log",
    )  # fmt: skip
    procs = [up]
    try:
        up.read_summary()
        created = run_cli(["tunnel", "create", "web", "--json"], user_env)
        assert created.returncode == 0, created.stderr
        token = json.loads(created.stdout)["token"]
        for host in (f"app.{TEAM}", f"ssh.{TEAM}", f"ws.{TEAM}"):
            routed = run_cli(["tunnel", "route", "dns", "web", host], user_env)
            assert routed.returncode == 0, routed.stderr
        config = tmp_path / "config.yml"
        config.write_text(
            f"ingress:\n"
            f"  - hostname: ssh.{TEAM}\n    service: tcp://127.0.0.1:{origin}\n"
            f"  - hostname: ws.{TEAM}\n    service: http://127.0.0.1:{ws_origin}\n"
            f"  - hostname: app.{TEAM}\n    path: ^/teapot\n    service: http_status:418\n"
            f"  - service: http://127.0.0.1:{origin}\n"
        )
        connector = RampartsProcess(
            [
                "connector",
                "run",
                "--json",
                "--token",
                token,
                "--config",
                str(config),
                "--ha-connections",
                "2",
            ],
            user_env,
            tmp_path / "connector.log",
        )
        procs.append(connector)
        connector.read_summary()
        metrics = connector.summary["metrics"]
        deadline = time.monotonic() + 20
        while httpx.get(f"http://{metrics}/ready").status_code != 200:
            assert time.monotonic() < deadline, connector.logs()
            time.sleep(0.1)
        yield {
            "up": up,
            "connector": connector,
            "https": up.summary["edge"]["https"],
            "ca": up.summary["ca_cert"],
            "env": user_env,
        }
    finally:
        for proc in reversed(procs):
            proc.terminate()


def curl(
    stack: dict[str, Any], host: str, path: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    port = stack["https"].rsplit(":", 1)[1]
    return subprocess.run(
        ["curl", "-sS", "--max-time", "20", "--cacert", stack["ca"],
         "--resolve", f"{host}:{port}:127.0.0.1", *extra, f"https://{host}:{port}{path}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_http_through_the_tunnel_reaches_the_origin_with_forwarding_headers(
    stack: dict[str, Any],
) -> None:
    Origin.seen.clear()
    result = curl(stack, f"app.{TEAM}", "/hello?x=1", "-H", "CF-Connecting-IP: 6.6.6.6")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["path"] == "/hello?x=1"
    at_origin = {k.lower(): v for k, v in Origin.seen[-1]["headers"].items()}
    assert at_origin["host"] == f"app.{TEAM}"
    assert at_origin["cf-connecting-ip"] == "127.0.0.1", "a client cannot spoof its address"
    assert at_origin["x-forwarded-for"] == "127.0.0.1"
    assert at_origin["x-forwarded-proto"] == "https"
    assert len(at_origin["x-request-id"]) == 16
    teapot = curl(stack, f"app.{TEAM}", "/teapot", "-o", "/dev/null", "-w", "%{http_code}")
    assert teapot.stdout == "418"


def test_unknown_host_and_upload(stack: dict[str, Any], tmp_path: Path) -> None:
    unknown = curl(stack, f"nope.{TEAM}", "/", "-w", "\n%{http_code}")
    assert unknown.stdout.endswith("404") and f"nope.{TEAM}" in unknown.stdout
    blob = tmp_path / "blob"
    data = bytes(range(256)) * 40_000  # ~10 MB
    blob.write_bytes(data)
    posted = curl(stack, f"app.{TEAM}", "/upload", "--data-binary", f"@{blob}")
    assert json.loads(posted.stdout) == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "len": len(data),
    }
    chunked = curl(
        stack,
        f"app.{TEAM}",
        "/upload",
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        f"@{blob}",
    )
    assert json.loads(chunked.stdout)["len"] == len(data)


def test_server_sent_events_arrive_one_by_one(stack: dict[str, Any]) -> None:
    port = int(stack["https"].rsplit(":", 1)[1])
    arrivals: list[float] = []
    proc = subprocess.Popen(
        ["curl", "-sSN", "--max-time", "20", "--cacert", stack["ca"],
         "--resolve", f"app.{TEAM}:{port}:127.0.0.1", f"https://app.{TEAM}:{port}/sse"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("data:"):
            arrivals.append(time.monotonic())
    proc.wait()
    assert len(arrivals) == 3
    assert arrivals[2] - arrivals[0] > 0.4, "events must not be buffered until the end"


def test_tcp_service_through_the_ramparts_tcp_upgrade(stack: dict[str, Any]) -> None:
    """A raw TCP service (here: the HTTP origin spoken to by hand) over the upgrade."""
    import ssl

    port = int(stack["https"].rsplit(":", 1)[1])
    ctx = ssl.create_default_context(cafile=stack["ca"])
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        ctx.wrap_socket(raw, server_hostname=f"ssh.{TEAM}") as tls,
    ):
        tls.sendall(
            f"GET / HTTP/1.1\r\nHost: ssh.{TEAM}\r\n"
            "Connection: upgrade\r\nUpgrade: ramparts-tcp\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += tls.recv(4096)
        assert head.startswith(b"HTTP/1.1 101"), head
        tls.sendall(b"GET /raw HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n")
        reply = head.split(b"\r\n\r\n", 1)[1]
        while chunk := tls.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.0 200") or reply.startswith(b"HTTP/1.1 200"), reply[:100]
    assert b'"/raw"' in reply


def test_connections_visible_in_api(stack: dict[str, Any]) -> None:
    info = run_cli(["tunnel", "info", "web", "--json"], stack["env"])
    body = json.loads(info.stdout)
    assert sorted(c["connection_index"] for c in body["connections"]) == [0, 1]
    assert {h["hostname"] for h in body["hostnames"]} == {
        f"app.{TEAM}",
        f"ssh.{TEAM}",
        f"ws.{TEAM}",
    }


def test_websocket_echo(stack: dict[str, Any]) -> None:
    from websockets.asyncio.client import connect

    port = int(stack["https"].rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=stack["ca"])

    async def talk() -> list[str | bytes]:
        uri = f"wss://ws.{TEAM}:{port}/echo"
        async with connect(uri, ssl=context, host="127.0.0.1", port=port) as ws:
            replies: list[str | bytes] = []
            for message in ("hello", "x" * 100_000, b"\x00\x01binary"):
                await ws.send(message)
                replies.append(await ws.recv())
            return replies

    assert asyncio.run(talk()) == ["hello", "x" * 100_000, b"\x00\x01binary"]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


GIB = 1 << 30
RSS_BOUND_MB = 250  # memory must not grow with the transfer: 1 GiB passes through both ways


def test_one_gib_download_and_upload_with_bounded_memory(stack: dict[str, Any]) -> None:
    pids = [stack["up"].proc.pid, stack["connector"].proc.pid]
    peak = {pid: _rss_mb(pid) for pid in pids}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for pid in pids:
                peak[pid] = max(peak[pid], _rss_mb(pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        down = curl(
            stack, f"app.{TEAM}", f"/download/{GIB}", "-o", "/dev/null", "-w", "%{size_download}"
        )
        assert down.returncode == 0, down.stderr
        assert int(down.stdout) == GIB
        port = stack["https"].rsplit(":", 1)[1]
        gen = subprocess.Popen(["head", "-c", str(GIB), "/dev/zero"], stdout=subprocess.PIPE)
        up = subprocess.run(
            ["curl", "-sS", "--max-time", "300", "--cacert", stack["ca"],
             "--resolve", f"app.{TEAM}:{port}:127.0.0.1",
             "-T", "-", f"https://app.{TEAM}:{port}/sink"],
            stdin=gen.stdout, capture_output=True, text=True, check=False,
        )  # fmt: skip
        gen.wait()
        assert up.returncode == 0, up.stderr
        assert json.loads(up.stdout) == {"len": GIB}
    finally:
        done.set()
        sampler.join()
    print(
        f"1 GiB down and up; peak RSS edge {peak[pids[0]]:.0f} MB, connector {peak[pids[1]]:.0f} MB"
    )
    for pid, mb in peak.items():
        assert mb < RSS_BOUND_MB, f"process {pid} peaked at {mb:.0f} MB"


def test_no_connector_gives_502(stack: dict[str, Any]) -> None:
    stack["connector"].terminate()
    deadline = time.monotonic() + 10
    while True:
        result = curl(stack, f"app.{TEAM}", "/", "-w", "\n%{http_code}")
        if result.stdout.endswith("502"):
            break
        assert time.monotonic() < deadline, result.stdout
        time.sleep(0.1)
    assert "no connector connected" in result.stdout
