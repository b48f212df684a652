"""Moving tunnel bytes both ways: zero-copy splice(2) between two TCP sockets, or a copy
between two connections in raw mode when TLS is on either side.

Both stop when both directions have ended (half-close is passed on), when either side fails,
or when the tunnel has been silent for the idle timeout or lived past its total timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
from dataclasses import dataclass, field

from ramparts.aio.http1 import Http1Channel, PeerClosed
from ramparts.http1 import ClientConnection, ServerConnection
from ramparts.proxy.limits import SPLICE_CHUNK

RawChannel = Http1Channel[ServerConnection] | Http1Channel[ClientConnection]
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_SPLICE_FLAGS = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK if hasattr(os, "splice") else 0


@dataclass(slots=True)
class Traffic:
    """Bytes carried so far and when the tunnel last moved any."""

    up: int = 0  # client -> destination
    down: int = 0  # destination -> client
    last: float = field(default=0.0)


async def _watch(traffic: Traffic, idle: float, total: float | None, started: float) -> None:
    """Return when the tunnel was idle for ``idle`` seconds or lived ``total`` seconds."""
    loop = asyncio.get_running_loop()
    step = max(0.05, min(idle / 4, 5.0))
    while True:
        await asyncio.sleep(step)
        now = loop.time()
        if now - traffic.last >= idle or (total is not None and now - started >= total):
            return


async def _run(pumps: list[asyncio.Task[None]], watchdog: asyncio.Task[None]) -> None:
    try:
        pending = set(pumps)
        while pending:
            done, _ = await asyncio.wait(pending | {watchdog}, return_when=asyncio.FIRST_COMPLETED)
            if watchdog in done:
                return
            for task in done:
                pending.discard(task)
                if task.exception() is not None:
                    return
    finally:
        for task in [*pumps, watchdog]:
            task.cancel()
        for task in [*pumps, watchdog]:
            with contextlib.suppress(BaseException):
                await task


# -- splice(2): both sides plain TCP --------------------------------------------------------


def can_splice() -> bool:
    return hasattr(os, "splice")


async def _ready(fd: int, write: bool) -> None:
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()

    def wake() -> None:
        if not waiter.done():
            waiter.set_result(None)

    if write:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await waiter
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


async def _splice_one_way(
    src: socket.socket, dst: socket.socket, traffic: Traffic, up: bool
) -> None:
    loop = asyncio.get_running_loop()
    read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        with contextlib.suppress(OSError):
            fcntl.fcntl(write_end, F_SETPIPE_SZ, SPLICE_CHUNK)
        src_fd, dst_fd = src.fileno(), dst.fileno()
        while True:
            try:
                n = os.splice(src_fd, write_end, SPLICE_CHUNK, flags=_SPLICE_FLAGS)
            except BlockingIOError:
                await _ready(src_fd, False)
                continue
            if n == 0:  # end of stream: pass the half-close on
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)
                return
            left = n
            while left:
                try:
                    left -= os.splice(read_end, dst_fd, left, flags=_SPLICE_FLAGS)
                except BlockingIOError:
                    await _ready(dst_fd, True)
            traffic.last = loop.time()
            if up:
                traffic.up += n
            else:
                traffic.down += n
    finally:
        os.close(read_end)
        os.close(write_end)


async def splice_sockets(
    client: socket.socket,
    dest: socket.socket,
    traffic: Traffic,
    *,
    idle: float,
    total: float | None,
) -> None:
    """Carry bytes between two connected non-blocking TCP sockets in the kernel."""
    loop = asyncio.get_running_loop()
    traffic.last = started = loop.time()
    pumps = [
        loop.create_task(_splice_one_way(client, dest, traffic, True), name="proxy-splice-up"),
        loop.create_task(_splice_one_way(dest, client, traffic, False), name="proxy-splice-dn"),
    ]
    await _run(pumps, loop.create_task(_watch(traffic, idle, total, started)))


# -- copying: TLS on one side ---------------------------------------------------------------


async def _copy(src: RawChannel, dst: RawChannel, traffic: Traffic, up: bool) -> None:
    loop = asyncio.get_running_loop()
    while data := await src.read_raw():
        dst.write(data)
        traffic.last = loop.time()
        if up:
            traffic.up += len(data)
        else:
            traffic.down += len(data)
        await dst.drain()
    dst.write_eof()


async def relay_channels(
    client: RawChannel,
    dest: RawChannel,
    traffic: Traffic,
    *,
    idle: float,
    total: float | None,
) -> None:
    """Carry bytes between two connections already switched to raw mode."""
    loop = asyncio.get_running_loop()
    traffic.last = started = loop.time()
    pumps = [
        loop.create_task(_copy(client, dest, traffic, True), name="proxy-copy-up"),
        loop.create_task(_copy(dest, client, traffic, False), name="proxy-copy-dn"),
    ]
    await _run(pumps, loop.create_task(_watch(traffic, idle, total, started)))


__all__ = [
    "PeerClosed",
    "RawChannel",
    "Traffic",
    "can_splice",
    "relay_channels",
    "splice_sockets",
]
