"""Forward proxy: squid and tinyproxy (Debian) vs the Ramparts edge proxy, same origin, same load.

    .venv/bin/python bench/proxy.py [--seconds 5] [--connections 32] [--gib 1] [--rounds 2]
    .venv/bin/python bench/proxy.py --quick        # smoke run, about 20 s

One origin for everyone: nginx (1 worker) serving a 1 KiB body at ``/small`` and a 64 MiB
file (page-cached) for the bulk runs. Measured for each proxy in the same run, in
``--rounds`` interleaved rounds (the best round of each proxy is printed: the box is shared):

1. plain HTTP requests/s: wrk (one thread, ``--connections`` keep-alive connections,
   ``--seconds`` s after a 1 s warm-up) sends absolute-form ``GET http://ORIGIN/small`` to
   the proxy (a wrk Lua script sets the request target; wrk connects to the proxy). Also the
   proxy process's CPU per request (user + system, and the system part).
2. CONNECT bulk throughput: 1 and 4 parallel tunnels (``CONNECT ORIGIN``, then keep-alive
   ``GET``s of the file through each tunnel, bytes counted by the bench) carrying ``--gib``
   GiB in total, each run cut off after ``--bulk-seconds`` s. The same GETs without a proxy
   give the ceiling of the box.

Anchors, configured as a forward proxy would be: squid 5 (one worker, ``cache deny all``,
access log ON through its log daemon, CONNECT allowed to the origin's port) and tinyproxy
1.11 (Debian defaults: one thread per connection, ``LogLevel Info`` to a file, ``Allow
127.0.0.1``, ``ConnectPort`` for the origin). Ramparts: ``ramparts up`` (control plane and
edge in one process, every request logged to its SQLite store in batches) with one source-IP
endpoint for 127.0.0.1/32 that allows private destinations and CONNECT to the origin port.
When this ``ramparts`` has no proxy yet, only the anchors are measured. Needs Debian squid,
tinyproxy, nginx and wrk (installed with apt-get when missing; the packaged services are not
left running). Loopback only; about 70 s by default."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stack import (
    RAMPARTS,
    Child,
    RampartsChild,
    ensure_debian,
    free_port,
    nginx,
    wait_for_port,
)

SMALL_BODY = b"x" * 1023 + b"\n"  # 1 KiB, the plain-HTTP response body
WARMUP_SECONDS = 1
TUNNELS = (1, 4)  # parallel CONNECT tunnels per bulk run
RECV_BUFFER = 1024 * 1024  # the bulk client's recv_into buffer
BLOB_BYTES = 64 << 20  # the bulk file; a tunnel GETs it (or a range of it) until its share is in
HEAD_LIMIT = 64 * 1024  # a proxy's or origin's response head larger than this is an error
READY_TIMEOUT = 30.0  # a proxy must serve the origin this soon after it starts


@dataclass
class HttpResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    cpu: float  # CPU seconds the proxy process (and its children) used in the measured run
    cpu_system: float  # the part of ``cpu`` spent in the kernel
    errors: str

    def line(self) -> str:
        extra = f", {self.errors}" if self.errors else ""
        return (
            f"{self.rps:>9,.0f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms"
            f"  CPU {self.cpu / max(self.requests, 1) * 1e6:4.0f} us/req"
            f" (sys {self.cpu_system / max(self.requests, 1) * 1e6:3.0f})"
            f"  ({self.requests:,} requests{extra})"
        )


@dataclass
class BulkResult:
    tunnels: int
    received: int
    seconds: float
    cpu: float
    complete: bool

    @property
    def gbits(self) -> float:
        return self.received * 8 / self.seconds / 1e9

    def line(self) -> str:
        gib = self.received / (1 << 30)
        cut = "" if self.complete else ", cut off by the time limit"
        return (
            f"{self.gbits:6.2f} Gbit/s  ({gib:.2f} GiB in {self.seconds:.2f} s, "
            f"CPU {self.cpu / max(gib, 1e-9):.2f} s/GiB{cut})"
        )


@dataclass
class Proxy:
    name: str
    label: str
    port: int
    pid: int
    http: HttpResult | None = None
    bulk: dict[int, BulkResult] = field(default_factory=dict)


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process (all its threads) and its child processes.

    Unlike ``_stack.cpu_seconds`` it tolerates threads that end while it reads (tinyproxy
    runs one thread per connection).
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    user, system = int(fields[11]) / tick, int(fields[12]) / tick
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        for child in children:
            child_user, child_system = cpu_times(int(child))
            user, system = user + child_user, system + child_system
    return user, system


def cpu_seconds(pid: int) -> float:
    return sum(cpu_times(pid))


# -- the origin ------------------------------------------------------------------------------


def start_origin(directory: Path, port: int) -> Child:
    """nginx: ``/small`` is the 1 KiB body, ``/blob`` 64 MiB of random bytes (page-cached)."""
    www = directory / "www"
    www.mkdir(parents=True)
    (www / "small").write_bytes(SMALL_BODY)
    block = os.urandom(1 << 20)
    with (www / "blob").open("wb") as f:
        for _ in range(BLOB_BYTES >> 20):
            f.write(block)
    return nginx(
        directory / "nginx",
        "origin",
        f"server {{ listen 127.0.0.1:{port} backlog=4096; root {www};\n"
        "  sendfile on; tcp_nopush on; default_type application/octet-stream;\n"
        "  location / { } }",
    )


# -- the anchors -----------------------------------------------------------------------------


def start_squid(directory: Path, port: int, origin_port: int) -> Child:
    directory.mkdir(parents=True)
    directory.chmod(0o777)  # squid drops root for the `proxy` user; its logs go here
    conf = directory / "squid.conf"
    conf.write_text(
        f"http_port 127.0.0.1:{port}\n"
        "workers 1\n"
        "visible_hostname bench-squid\n"
        f"pid_filename {directory}/squid.pid\n"
        f"cache_log {directory}/cache.log\n"
        f"access_log daemon:{directory}/access.log squid\n"
        f"coredump_dir {directory}\n"
        "cache deny all\n"
        "cache_mem 8 MB\n"
        "netdb_filename none\n"
        "pinger_enable off\n"
        "max_filedescriptors 16384\n"
        "shutdown_lifetime 1 seconds\n"
        "acl localnet src 127.0.0.1/32\n"
        f"acl SSL_ports port 443 {origin_port}\n"
        f"acl Safe_ports port 80 443 {origin_port}\n"
        "acl CONNECT method CONNECT\n"
        "http_access deny !Safe_ports\n"
        "http_access deny CONNECT !SSL_ports\n"
        "http_access allow localnet\n"
        "http_access deny all\n"
    )
    return Child(["squid", "-N", "-f", str(conf)], directory / "squid.stderr")


def start_tinyproxy(directory: Path, port: int, origin_port: int) -> Child:
    directory.mkdir(parents=True)
    directory.chmod(0o777)  # tinyproxy runs as `nobody`; its log goes here
    conf = directory / "tinyproxy.conf"
    conf.write_text(
        "User nobody\nGroup nogroup\n"
        f"Port {port}\nListen 127.0.0.1\n"
        "Timeout 600\n"
        f'LogFile "{directory}/tinyproxy.log"\nLogLevel Info\n'
        f'PidFile "{directory}/tinyproxy.pid"\n'
        "MaxClients 1024\n"
        "Allow 127.0.0.1\n"
        'ViaProxyName "tinyproxy"\n'
        f"ConnectPort {origin_port}\n"
    )
    return Child(["tinyproxy", "-d", "-c", str(conf)], directory / "tinyproxy.stderr")


# -- ramparts --------------------------------------------------------------------------------


def ramparts_missing() -> str:
    """Why this ``ramparts`` can not be measured yet ("" when it can)."""
    for args, wanted, missing in (
        (["up", "--help"], "--proxy-port", "`ramparts up` has no --proxy-port"),
        (["proxy", "endpoint", "--help"], "create", "no `ramparts proxy endpoint create`"),
    ):
        done = subprocess.run(
            [RAMPARTS, *args], capture_output=True, text=True, timeout=60, check=False
        )
        if wanted not in done.stdout:
            return f"ramparts proxy not available yet ({missing})"
    return ""


class RampartsProxy:
    """``ramparts up`` with a proxy listener and one source-IP endpoint for 127.0.0.1/32."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.env = dict(os.environ)
        self.env["XDG_CONFIG_HOME"] = str(directory / "config")
        self.env["XDG_DATA_HOME"] = str(directory / "data")
        self.env.pop("RAMPARTS_TOKEN", None)
        self.env.pop("RAMPARTS_API", None)
        self.up: RampartsChild | None = None
        self.port = 0

    def start(self, origin_port: int) -> None:
        args = ["up", "--json", "--team", "bench", "--data-dir", str(self.dir / "d")]
        args += ["--log-level", "warning", "--drain-timeout", "2"]
        for flag in ("api", "https", "tunnel", "metrics", "dns", "dot", "doh", "proxy-tls"):
            args += [f"--{flag}-port", str(free_port())]
        args += ["--proxy-port", str(free_port())]
        self.up = RampartsChild(args, self.dir / "up.log", self.env)
        summary = self.up.summary()
        self.port = int(summary["edge"]["proxy"].rsplit(":", 1)[1])
        done = subprocess.run(
            [RAMPARTS, "proxy", "endpoint", "create", "bench", "--source-network",
             "127.0.0.1/32", "--allow-private-destinations", "--connect-port", str(origin_port)],
            env=self.env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"ramparts proxy endpoint create: {done.stderr}")

    def stop(self) -> None:
        if self.up is not None:
            self.up.stop()


# -- plain HTTP: wrk with an absolute-form request target ------------------------------------


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(script: Path, port: int, seconds: float, connections: int) -> str:
    return subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{round(seconds)}s", "--latency",
         "-s", str(script), f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip


def parse_wrk(out: str, cpu: tuple[float, float]) -> HttpResult:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    problems = [
        m.group(0).strip()
        for m in re.finditer(r"(Non-2xx or 3xx responses: \d+|Socket errors: .*)", out)
    ]
    return HttpResult(rps, p50, p99, total, sum(cpu), cpu[1], "; ".join(problems))


def fetch_through(proxy_port: int, url: str) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{proxy_port}"})
    )
    try:
        with opener.open(url, timeout=10) as answer:
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until_served(proxy: Proxy, url: str) -> None:
    """The proxy answers ``url`` with the origin's body (ramparts: once the endpoint applies)."""
    deadline = time.monotonic() + READY_TIMEOUT
    status, body = 0, b""
    while time.monotonic() < deadline:
        try:
            status, body = fetch_through(proxy.port, url)
        except OSError as exc:
            status, body = 0, str(exc).encode()
        if status == 200 and body == SMALL_BODY:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{proxy.name} never served {url}: {status} {body[:200]!r}")


def measure_http(proxy: Proxy, script: Path, args: argparse.Namespace) -> HttpResult:
    wrk(script, proxy.port, WARMUP_SECONDS, args.connections)
    user, system = cpu_times(proxy.pid)
    out = wrk(script, proxy.port, args.seconds, args.connections)
    user_after, system_after = cpu_times(proxy.pid)
    return parse_wrk(out, (user_after - user, system_after - system))


# -- CONNECT bulk: our own client, N threads ----------------------------------------------


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """(response head, bytes after it) from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(16384)
        if not chunk:
            raise RuntimeError(f"connection closed inside a response head: {data[:200]!r}")
        data += chunk
        if len(data) > HEAD_LIMIT:
            raise RuntimeError("response head too large")
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def tunnel_get(proxy_port: int | None, origin_port: int, want: int, deadline: float) -> int:
    """CONNECT to the origin, then GET the blob through the tunnel (keep-alive, ranges for the
    rest) until ``want`` body bytes are in or ``deadline`` passes; returns the bytes read.
    Without ``proxy_port``: the same GETs straight to the origin (the ceiling of this box)."""
    target = f"127.0.0.1:{origin_port}"
    with socket.create_connection(("127.0.0.1", proxy_port or origin_port), timeout=30) as sock:
        if proxy_port:
            sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            head, rest = _read_head(sock)
            if not re.match(rb"HTTP/1\.[01] 200", head):
                raise RuntimeError(f"CONNECT refused: {head[:200]!r}")
            if rest:
                raise RuntimeError(f"{len(rest)} bytes in the tunnel before the request")
        buffer = memoryview(bytearray(RECV_BUFFER))
        received = 0
        while received < want and time.monotonic() < deadline:
            size = min(want - received, BLOB_BYTES)
            ranged = f"Range: bytes=0-{size - 1}\r\n" if size < BLOB_BYTES else ""
            sock.sendall(f"GET /blob HTTP/1.1\r\nHost: {target}\r\n{ranged}\r\n".encode())
            head, rest = _read_head(sock)
            match = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.IGNORECASE)
            if not re.match(rb"HTTP/1\.1 20[06]", head) or match is None:
                raise RuntimeError(f"origin through the tunnel: {head[:200]!r}")
            length = int(match.group(1))
            if length != size or len(rest) > length:
                raise RuntimeError(f"asked for {size} bytes, got a {length}-byte response")
            got = len(rest)
            while got < length:
                left = deadline - time.monotonic()
                if left <= 0:
                    return received + got
                sock.settimeout(left)
                try:
                    n = sock.recv_into(buffer[: length - got])
                except TimeoutError:
                    return received + got
                if not n:
                    raise RuntimeError(f"tunnel closed after {received + got} bytes")
                got += n
            received += got
        return received


def measure_bulk(
    name: str, proxy_port: int | None, pid: int | None, origin_port: int, tunnels: int,
    total: int, max_seconds: float,
) -> BulkResult:  # fmt: skip
    tunnel_get(proxy_port, origin_port, 1 << 20, time.monotonic() + 10)  # warm-up
    share = total // tunnels
    counts = [0] * tunnels
    errors: list[BaseException] = []
    before = cpu_seconds(pid) if pid else 0.0
    started = time.perf_counter()
    deadline = time.monotonic() + max_seconds

    def run(slot: int) -> None:
        try:
            counts[slot] = tunnel_get(proxy_port, origin_port, share, deadline)
        except BaseException as exc:  # reported below, with the proxy's name
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(tunnels)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - before if pid else 0.0
    if errors:
        raise RuntimeError(f"{name}, {tunnels} tunnels: {errors[0]!r}")
    received = sum(counts)
    return BulkResult(tunnels, received, elapsed, cpu, received == share * tunnels)


# -- the run ---------------------------------------------------------------------------------


def ratio(ours: float, anchor: float) -> str:
    return f"{ours / anchor:.2f}x" if anchor else "n/a"


def report(
    proxies: list[Proxy],
    direct: dict[int, BulkResult],
    args: argparse.Namespace,
    ramparts_note: str,
) -> None:
    rounds = f"best of {args.rounds} interleaved rounds" if args.rounds > 1 else "1 round"
    print(
        f"forward proxy, plain HTTP: wrk -t1 -c{args.connections} -d{args.seconds:g}s, "
        f"absolute-form GET of a {len(SMALL_BODY)}-byte body from nginx ({rounds})"
    )
    width = max(len(p.label) for p in proxies)
    for proxy in proxies:
        assert proxy.http is not None
        print(f"  {proxy.label:<{width}}  {proxy.http.line()}")
        if proxy.name == "tinyproxy":
            print(
                f"  {'':<{width}}  (tinyproxy closes each client connection after one response;"
                " wrk reconnects and counts each close as a read error)"
            )
    if ramparts_note:
        print(f"  ramparts: {ramparts_note}")
    print(
        f"forward proxy, CONNECT bulk: {args.gib:g} GiB in total per run (at most "
        f"{args.bulk_seconds:g} s), keep-alive GETs of a {BLOB_BYTES >> 20} MiB file from nginx"
        f" through each tunnel ({rounds})"
    )
    for tunnels in TUNNELS:
        label = f"no proxy, {tunnels} conn{'s' if tunnels > 1 else ''}"
        print(f"  {label:<22} {direct[tunnels].line().split(', CPU')[0]}) (the box's ceiling)")
        for proxy in proxies:
            label = f"{proxy.name}, {tunnels} tunnel{'s' if tunnels > 1 else ''}"
            print(f"  {label:<22} {proxy.bulk[tunnels].line()}")
    by_name = {p.name: p for p in proxies}
    ours = by_name.get("ramparts")
    if ours is not None and ours.http is not None:
        for anchor_name in ("squid", "tinyproxy"):
            anchor = by_name.get(anchor_name)
            if anchor is None or anchor.http is None:
                continue
            bulk = ", ".join(
                f"{t} tunnel{'s' if t > 1 else ''} "
                f"{ratio(ours.bulk[t].gbits, anchor.bulk[t].gbits)}"
                for t in TUNNELS
            )
            target = " (targets: >= 1.0x both)" if anchor_name == "squid" else ""
            print(
                f"  ramparts / {anchor_name}: requests/s {ratio(ours.http.rps, anchor.http.rps)};"
                f" CONNECT {bulk}{target}"
            )
    print(f"  load average at the end: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores, shared)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="each measured wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk keep-alive connections")
    parser.add_argument("--gib", type=float, default=1.0, help="payload per bulk run, GiB")
    parser.add_argument("--bulk-seconds", type=float, default=5.0, help="cut-off per bulk run")
    parser.add_argument(
        "--rounds", type=int, default=2, help="interleaved rounds; the best of each is kept"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, 1 s, 128 MiB")
    parser.add_argument("--only", choices=["squid", "tinyproxy", "ramparts"], action="append")
    parser.add_argument("--no-ramparts", action="store_true", help="measure the anchors only")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    parser.add_argument(
        "--hold", type=float, default=0.0, help="before measuring ramparts, wait this long"
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.gib, args.bulk_seconds = 1, 1.0, 0.125, 4.0
    ensure_debian("wrk", packages=["wrk"])
    ensure_debian("nginx", packages=["nginx"])
    if not (shutil.which("squid") and shutil.which("tinyproxy")):
        ensure_debian("squid", "tinyproxy", packages=["squid", "tinyproxy"])
        for service in ("squid", "tinyproxy"):  # the packaged instances are not ours to run
            subprocess.run(
                ["systemctl", "disable", "--now", service], capture_output=True, check=False
            )
    wanted = set(args.only or ["squid", "tinyproxy", "ramparts"])
    ramparts_note = ""
    if args.no_ramparts:
        wanted.discard("ramparts")
        ramparts_note = "not measured (--no-ramparts)"
    elif "ramparts" in wanted:
        ramparts_note = ramparts_missing()
        if ramparts_note:
            wanted.discard("ramparts")
    total = int(args.gib * (1 << 30))
    tmp = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    tmp.chmod(0o755)  # squid and tinyproxy drop root and must reach their own dirs
    children: list[Child] = []
    ours = RampartsProxy(tmp / "ramparts")
    try:
        origin_port = free_port()
        origin = start_origin(tmp / "origin", origin_port)
        children.append(origin)
        wait_for_port(origin_port)
        url = f"http://127.0.0.1:{origin_port}/small"
        script = tmp / "absolute.lua"
        script.write_text(f'wrk.path = "{url}"\nwrk.headers["Host"] = "127.0.0.1:{origin_port}"\n')
        proxies: list[Proxy] = []
        if "squid" in wanted:
            port = free_port()
            child = start_squid(tmp / "squid", port, origin_port)
            children.append(child)
            proxies.append(Proxy("squid", "squid 5 (1 worker, access log on)", port, child.pid))
        if "tinyproxy" in wanted:
            port = free_port()
            child = start_tinyproxy(tmp / "tinyproxy", port, origin_port)
            children.append(child)
            proxies.append(Proxy("tinyproxy", "tinyproxy 1.11 (LogLevel Info)", port, child.pid))
        if "ramparts" in wanted:
            (tmp / "ramparts").mkdir()
            ours.start(origin_port)
            assert ours.up is not None
            proxies.append(
                Proxy("ramparts", "ramparts up (request log on)", ours.port, ours.up.pid)
            )
        for proxy in proxies:
            wait_for_port(proxy.port)
            wait_until_served(proxy, url)
        if args.hold and "ramparts" in wanted:
            print(f"holding {args.hold}s: ramparts pid {proxies[-1].pid}", file=sys.stderr)
            time.sleep(args.hold)
        direct: dict[int, BulkResult] = {}
        for _ in range(args.rounds):  # interleaved rounds, the best of each kept (shared box)
            for proxy in proxies:
                http = measure_http(proxy, script, args)
                if proxy.http is None or http.rps > proxy.http.rps:
                    proxy.http = http
            for tunnels in TUNNELS:
                for target in [*proxies, None]:
                    bulk = measure_bulk(
                        target.name if target else "direct", target.port if target else None,
                        target.pid if target else None, origin_port, tunnels, total,
                        args.bulk_seconds,
                    )  # fmt: skip
                    best = target.bulk if target else direct
                    if tunnels not in best or bulk.gbits > best[tunnels].gbits:
                        best[tunnels] = bulk
        report(proxies, direct, args, ramparts_note)
    finally:
        ours.stop()
        for child in reversed(children):
            child.stop()
        if args.keep:
            print(f"logs in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
