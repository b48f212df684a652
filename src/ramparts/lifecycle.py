"""Process lifecycle: the event loop, and signals (first one drains, second one exits at once)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

EXIT_INTERRUPTED = 130  # conventional 128 + SIGINT

Main = Callable[[asyncio.Event], Awaitable[int]]


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.new_event_loop
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Main) -> int:
    """Run ``main(stop)``; SIGTERM/SIGINT set ``stop`` (graceful drain); a second one exits now."""

    async def wrapper() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        received: list[int] = []

        def on_signal(signum: int) -> None:
            received.append(signum)
            if len(received) == 1:
                log.info("signal received, draining", extra={"signal": signal.Signals(signum).name})
                stop.set()
            else:
                log.warning("second signal, exiting immediately")
                os._exit(EXIT_INTERRUPTED)

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal, signum)
        try:
            return await main(stop)
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(wrapper())
