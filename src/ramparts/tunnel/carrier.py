"""The client side of TCP applications: a raw byte stream to a tunnel's TCP service, carried
over the edge's HTTPS listener (an HTTP/1.1 ``Upgrade: ramparts-tcp``), so that only
HTTPS egress is needed. Used by ``ramparts access tcp`` (local listener) and
``ramparts access ssh`` (stdio, for OpenSSH's ProxyCommand).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import sys
from dataclasses import dataclass

from ramparts.http1 import ClientConnection, RemoteProtocolError, Response

UPGRADE = b"ramparts-tcp"
CONNECT_TIMEOUT = 15.0
MAX_RESPONSE_HEAD = 64 * 1024
COPY_CHUNK = 256 * 1024


class CarrierError(Exception):
    """The edge refused or could not open the stream (the message says why)."""


@dataclass(frozen=True, slots=True)
class CarrierTarget:
    hostname: str  # the public hostname of the TCP application
    edge_host: str  # where to connect (defaults to hostname)
    edge_port: int
    context: ssl.SSLContext
    headers: tuple[tuple[bytes, bytes], ...] = ()  # e.g. an Access token (issue: Access)


@dataclass(slots=True)
class Carrier:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    early: bytes  # bytes of the stream that arrived with the edge's 101


async def open_carrier(target: CarrierTarget) -> Carrier:
    """TLS to the edge, upgrade, and return the raw stream."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                target.edge_host,
                target.edge_port,
                ssl=target.context,
                server_hostname=target.hostname,
                limit=COPY_CHUNK,
            ),
            CONNECT_TIMEOUT,
        )
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        raise CarrierError(
            f"cannot reach the edge at {target.edge_host}:{target.edge_port}: {exc}"
        ) from None
    h1 = ClientConnection()
    head = h1.send_request(
        b"GET",
        b"/",
        [
            (b"host", target.hostname.encode("idna")),
            (b"connection", b"upgrade"),
            (b"upgrade", UPGRADE),
            *target.headers,
        ],
    )
    writer.write(head)
    h1.send_end()
    response = await _read_response(reader, h1)
    if response.status != 101:
        writer.close()
        raise CarrierError(f"the edge answered {response.status} for {target.hostname}")
    return Carrier(reader, writer, h1.take_trailing_data())


async def _read_response(reader: asyncio.StreamReader, h1: ClientConnection) -> Response:
    total = 0
    while True:
        try:
            event = h1.next_event()
        except RemoteProtocolError as exc:
            raise CarrierError(f"bad answer from the edge: {exc}") from None
        if isinstance(event, Response):
            return event
        data = await reader.read(65536)
        if not data:
            raise CarrierError("the edge closed the connection")
        total += len(data)
        if total > MAX_RESPONSE_HEAD:
            raise CarrierError("the edge's answer is too large")
        h1.feed(data)


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, early: bytes = b""
) -> None:
    try:
        if early:
            writer.write(early)
        while data := await reader.read(COPY_CHUNK):
            writer.write(data)
            await writer.drain()
    finally:
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()
        else:
            writer.close()


async def bridge(local: tuple[asyncio.StreamReader, asyncio.StreamWriter], remote: Carrier) -> None:
    """Copy both ways until both directions ended; then close both."""
    try:
        await asyncio.gather(
            _pump(local[0], remote.writer),
            _pump(remote.reader, local[1], remote.early),
            return_exceptions=True,
        )
    finally:
        for writer in (local[1], remote.writer):
            writer.close()


async def serve_local(
    target: CarrierTarget, host: str, port: int, ready: asyncio.Event | None = None
) -> None:
    """``ramparts access tcp``: every local connection gets its own carrier."""

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            remote = await open_carrier(target)
        except CarrierError as exc:
            print(f"error: {exc}", file=sys.stderr)
            writer.close()
            return
        await bridge((reader, writer), remote)

    server = await asyncio.start_server(on_client, host, port, limit=COPY_CHUNK)
    async with server:
        if ready is not None:
            ready.set()
        await server.serve_forever()


async def stdio_bridge(target: CarrierTarget) -> None:
    """``ramparts access ssh``: stdin/stdout are the stream (OpenSSH ProxyCommand)."""
    remote = await open_carrier(target)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=COPY_CHUNK)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), os.fdopen(0, "rb", 0))
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(1, "wb", 0)
    )
    stdout = asyncio.StreamWriter(transport, protocol, None, loop)
    await bridge((stdin, stdout), remote)
