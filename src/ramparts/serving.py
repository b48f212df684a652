"""Running ASGI apps (API, edge admin, HTTPS ingress) as owned tasks inside one event loop.

uvicorn is used as a library: we bind the socket ourselves (so a busy port is a clear error, and
port 0 picks a free one), and signals stay with our process lifecycle, not with uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Generator
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 1024
DEFAULT_DRAIN_TIMEOUT = 10.0


class BindError(OSError):
    """A listening socket could not be opened."""


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket (dual-stack aware); BindError with the address on failure."""
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise BindError(
            exc.errno, f"cannot listen on {format_address(host, port)}: {exc.strerror}"
        ) from None
    sock.setblocking(False)
    return sock


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bound_address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return format_address(str(host), int(port))


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The process lifecycle owns SIGTERM/SIGINT; stop() is how we are told to exit.
        yield


class AsgiServer:
    """One ASGI app on one listening socket, served until stop()."""

    def __init__(
        self,
        name: str,
        app: ASGIApp,
        host: str,
        port: int,
        *,
        certfile: Path | None = None,
        keyfile: Path | None = None,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
    ) -> None:
        self.name = name
        self._sock = bind_tcp(host, port)
        self.address = bound_address(self._sock)
        self.port = int(self._sock.getsockname()[1])
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            date_header=True,
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
            timeout_graceful_shutdown=int(drain_timeout) or 1,
            timeout_keep_alive=15,
        )
        self._server = _EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]), name=self.name)
        while not self._server.started:
            if self._task.done():
                await self._task  # surfaces the startup error
                raise RuntimeError(f"{self.name} stopped during start-up")
            await asyncio.sleep(0.01)
        log.info("listening", extra={"service": self.name, "address": self.address})

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (bounded by drain_timeout), close."""
        if self._task is None:
            self._sock.close()
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._sock.close()

    def force_stop(self) -> None:
        self._server.should_exit = True
        self._server.force_exit = True
