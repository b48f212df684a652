"""One-stream bulk throughput: `ramparts access tcp` through a tunnel vs an `ssh -L` forward.

    .venv/bin/python bench/tunnel_bulk.py [--gib 2] [--seconds 20]

Ours: sender -> `ramparts access tcp` (local listener) -> edge HTTPS listener (TLS,
`Upgrade: ramparts-tcp`) -> tunnel (TLS/TCP mux) -> `ramparts connector run --url tcp://SINK`
-> sink. Anchor: sender -> `ssh -N -L` (OpenSSH client, default cipher) -> a real sshd on
loopback -> the same sink. The sink is a separate process that reads and discards; the
sender streams 1 MiB blocks (each with a 4-byte length, a zero length ends) for at most
``--gib`` GiB or ``--seconds`` seconds, whichever comes first, and stops the clock when the
sink answers that it has read everything. Gbit/s = payload bits / that time. The QUIC
transport is reported as not available (it does not exist yet). Loopback only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stack import (
    RAMPARTS,
    Child,
    SshServer,
    TunnelStack,
    cpu_seconds,
    free_port,
    wait_for_port,
)

HOST = "bulk.acme.localhost"
BLOCK = 1024 * 1024
LENGTH = struct.Struct(">I")


# -- the sink (a child process: `tunnel_bulk.py --sink PORT`) ------------------------------


def _read_exact(conn: socket.socket, view: memoryview) -> bool:
    while view:
        n = conn.recv_into(view)
        if not n:
            return False
        view = view[n:]
    return True


def _sink_one(conn: socket.socket) -> None:
    with conn:
        header = bytearray(LENGTH.size)
        block = memoryview(bytearray(BLOCK))
        total = 0
        while _read_exact(conn, memoryview(header)):
            (length,) = LENGTH.unpack(header)
            if length == 0:
                conn.sendall(f"{total}\n".encode())
                return
            if length > BLOCK or not _read_exact(conn, block[:length]):
                return
            total += length


def sink(port: int) -> None:
    with socket.create_server(("127.0.0.1", port)) as server:
        while True:
            conn, _ = server.accept()
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * BLOCK)
            threading.Thread(target=_sink_one, args=(conn,), daemon=True).start()


# -- the sender -------------------------------------------------------------------------


def send(port: int, max_bytes: int, max_seconds: float) -> tuple[int, float]:
    """Stream blocks to ``port``; returns (payload bytes, seconds until the sink confirmed)."""
    block = bytes(range(256)) * (BLOCK // 256)
    header = LENGTH.pack(BLOCK)
    with socket.create_connection(("127.0.0.1", port), timeout=max_seconds + 60) as conn:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * BLOCK)
        sent = 0
        started = time.perf_counter()
        deadline = started + max_seconds
        while sent < max_bytes and time.perf_counter() < deadline:
            conn.sendall(header)
            conn.sendall(block)
            sent += BLOCK
        conn.sendall(LENGTH.pack(0))
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = conn.recv(64)
            if not chunk:
                raise RuntimeError(f"the sink closed early (sent {sent} bytes)")
            answer += chunk
        elapsed = time.perf_counter() - started
    received = int(answer)
    if received != sent:
        raise RuntimeError(f"the sink read {received} bytes of {sent}")
    return sent, elapsed


def _gbits(n: int, seconds: float) -> float:
    return n * 8 / seconds / 1e9


def measure(
    name: str, port: int, pids: dict[str, int], args: argparse.Namespace
) -> tuple[float, int, float, dict[str, float]]:
    send(port, 64 * BLOCK, 10)  # warm-up: connection set-up paths, windows, caches
    before = {k: cpu_seconds(p) for k, p in pids.items()}
    sent, elapsed = send(port, int(args.gib * (1 << 30)), args.seconds)
    cpu = {k: cpu_seconds(p) - before[k] for k, p in pids.items()}
    return _gbits(sent, elapsed), sent, elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gib", type=float, default=2.0, help="payload per run, GiB")
    parser.add_argument("--seconds", type=float, default=20.0, help="at most this long per run")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        sink(args.sink)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-tunnel-bulk-"))
    children: list[Child] = []
    stack = TunnelStack(tmp)
    sshd = SshServer(tmp / "sshd")
    try:
        sink_port = free_port()
        children.append(
            Child([sys.executable, __file__, "--sink", str(sink_port)], tmp / "sink.log")
        )
        wait_for_port(sink_port)
        sink_pid = children[0].pid

        sshd.start()
        ssh_port = free_port()
        ssh_client = sshd.forward(ssh_port, sink_port)
        children.append(ssh_client)
        assert sshd.child is not None

        stack.start_edge()
        stack.create_tunnel("bulk", HOST)
        stack.start_connector(f"tcp://127.0.0.1:{sink_port}")
        assert stack.edge is not None
        assert stack.connector is not None
        access_port = free_port()
        access = Child(
            [RAMPARTS, "access", "tcp", "--hostname", HOST, "--url", f"127.0.0.1:{access_port}",
             "--edge", f"127.0.0.1:{stack.https_port}", "--ca-cert", stack.ca_cert],
            tmp / "access.log",
            stack.env,
        )  # fmt: skip
        children.append(access)
        wait_for_port(access_port)

        anchor = measure(
            "ssh",
            ssh_port,
            {"ssh": ssh_client.pid, "sshd": sshd.child.pid, "sink": sink_pid},
            args,
        )
        ours = measure(
            "tunnel",
            access_port,
            {
                "access tcp": access.pid,
                "edge": stack.edge.pid,
                "connector": stack.connector.pid,
                "sink": sink_pid,
            },
            args,
        )

        def line(result: tuple[float, int, float, dict[str, float]]) -> str:
            rate, sent, elapsed, _cpu = result
            return f"{rate:6.2f} Gbit/s  ({sent / (1 << 30):.2f} GiB in {elapsed:.1f} s)"

        def cpu(result: tuple[float, int, float, dict[str, float]]) -> str:
            gib = result[1] / (1 << 30)
            return ", ".join(f"{k} {v:.1f} s ({v / gib:.2f} s/GiB)" for k, v in result[3].items())

        print(
            f"tunnel bulk: one TCP stream, up to {args.gib:g} GiB or {args.seconds:g} s per run, "
            "sink = a Python process reading and discarding"
        )
        print(f"  tunnel, TCP transport (access tcp -> edge -> connector): {line(ours)}")
        print("  tunnel, QUIC transport: not available (not implemented yet)")
        print(f"  ssh -L (OpenSSH, default cipher):                         {line(anchor)}")
        print(f"  ratio: {ours[0] / anchor[0]:.2f}x (target >= 1.0x)")
        print(f"  CPU in the measured run: tunnel: {cpu(ours)}")
        print(f"                           ssh:    {cpu(anchor)}")
        print(f"  load average at the end: {os.getloadavg()[0]:.1f} (2 cores shared)")
    finally:
        stack.stop()
        for child in reversed(children):
            child.stop()
        sshd.stop()
        if args.keep:
            print(f"logs in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
