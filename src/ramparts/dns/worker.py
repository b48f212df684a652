"""A DNS worker process: plain DNS (UDP + TCP) on a port shared with the edge by SO_REUSEPORT.

Started by ``DnsService`` as ``python -m ramparts.dns.worker``; the database URL comes in the
``RAMPARTS_DATABASE`` environment variable (not on the command line, where ``ps`` shows it).
Protocol with the parent, one line at a time: stdin ``refresh`` (a new snapshot is out; EOF
means stop), stdout JSON ``{"ready": true}`` once listening, then ``{"stats": {...}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys

from ramparts import logs
from ramparts.config.feed import SnapshotFeed
from ramparts.dns.listeners.sockets import bind_socket
from ramparts.dns.listeners.stream import serve_stream
from ramparts.dns.listeners.udp import serve_udp
from ramparts.dns.querylog import QueryLog
from ramparts.dns.resolver import Resolver
from ramparts.dns.service import STATS_INTERVAL, stats_reporter
from ramparts.lifecycle import run
from ramparts.store import Database


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


async def _serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
    db = Database(os.environ["RAMPARTS_DATABASE"])
    feed = SnapshotFeed(db, args.poll_interval)
    snapshot = await feed.start()
    query_log = QueryLog(db, args.edge_name, lambda: resolver.retention_days, process=True)
    resolver = Resolver(query_log=query_log)
    resolver.apply(snapshot)
    feed.subscribe(resolver.apply)
    udp_sock = bind_socket(args.host, args.port, socket.SOCK_DGRAM, reuse_port=True)
    tcp_sock = bind_socket(args.host, args.port, socket.SOCK_STREAM, reuse_port=True)
    udp = await serve_udp(udp_sock, resolver)
    tcp = await serve_stream(tcp_sock, resolver, "tcp")
    query_log.start()
    report = stats_reporter(resolver, _write)
    _write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def commands() -> None:
        while line := await reader.readline():
            if line.strip() == b"refresh":
                with contextlib.suppress(Exception):
                    await feed.refresh()
        stop.set()  # the parent closed our stdin (or died)

    async def reports() -> None:
        while True:
            await asyncio.sleep(STATS_INTERVAL)
            report()

    tasks = [
        asyncio.create_task(commands(), name="dns-worker-commands"),
        asyncio.create_task(reports(), name="dns-worker-stats"),
    ]
    await stop.wait()
    tcp.close()
    await udp.drain(2.0)
    udp.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await query_log.stop()
    await resolver.close()
    await feed.stop()
    db.dispose()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description="Ramparts DNS worker (started by the edge)")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--edge-name", default="")
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    logs.setup(args.log_level, "json")
    raise SystemExit(run(lambda stop: _serve(args, stop)))


if __name__ == "__main__":
    main()
