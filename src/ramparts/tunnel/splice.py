"""Copying bytes between a tunnel stream and a socket or an upgraded HTTP connection, both
ways, with half-close."""

from __future__ import annotations

import asyncio
import contextlib

from ramparts.aio.http1 import Http1Channel
from ramparts.http1 import ClientConnection, ServerConnection
from ramparts.tunnel.mux import MuxStream, StreamError
from ramparts.tunnel.protocol import ErrorCode

READ_CHUNK = 256 * 1024  # large reads: fewer frames and syscalls on bulk transfers


async def _socket_to_stream(reader: asyncio.StreamReader, stream: MuxStream) -> None:
    while True:
        data = await reader.read(READ_CHUNK)
        if not data:
            stream.end()
            return
        await stream.write(data)


async def _stream_to_socket(stream: MuxStream, writer: asyncio.StreamWriter) -> None:
    while True:
        data = await stream.read()
        if not data:
            if writer.can_write_eof():
                writer.write_eof()
            return
        writer.write(data)
        await writer.drain()


async def splice(
    stream: MuxStream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Run until both directions finished; a failure on either side aborts both."""
    up = asyncio.create_task(_socket_to_stream(reader, stream), name="splice-up")
    down = asyncio.create_task(_stream_to_socket(stream, writer), name="splice-down")
    try:
        done, pending = await asyncio.wait({up, down}, return_when=asyncio.FIRST_EXCEPTION)
        failed = [t for t in done if t.exception() is not None]
        if failed:
            for task in pending:
                task.cancel()
            error = failed[0].exception()
            if isinstance(error, StreamError):
                return
            stream.reset(ErrorCode.CANCEL)
            return
        await asyncio.gather(*pending)
    except asyncio.CancelledError:
        up.cancel()
        down.cancel()
        stream.reset(ErrorCode.CANCEL)
        raise
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


RawChannel = Http1Channel[ServerConnection] | Http1Channel[ClientConnection]


async def splice_channel(stream: MuxStream, channel: RawChannel) -> None:
    """After a 101: raw bytes between an HTTP/1.1 connection (in raw mode) and the stream."""

    async def up() -> None:
        while data := await channel.read_raw():
            await stream.write(data)
        stream.end()

    async def down() -> None:
        while data := await stream.read():
            channel.write(data)
            await channel.drain()
        channel.write_eof()

    tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        if any(t.exception() is not None for t in done):
            for task in pending:
                task.cancel()
            stream.reset(ErrorCode.CANCEL)
        else:
            await asyncio.gather(*pending)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        stream.reset(ErrorCode.CANCEL)
        raise
    finally:
        with contextlib.suppress(Exception):
            channel.close()
