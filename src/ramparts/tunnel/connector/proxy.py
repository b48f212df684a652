"""The connector's stream handler: match the ingress rule, then serve the stream from its origin.

HTTP streams go to ``http://``/``https://``/``unix:`` origins (see ``origins.py``) or are
answered here (``http_status:``, ``hello_world``); TCP streams (``ssh://``, ``tcp://``…) are
spliced to a fresh connection to the origin. A stream no rule can serve is rejected with a code
the edge turns into the right error page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ramparts import __version__
from ramparts.tunnel.connector.ingress import IngressRules
from ramparts.tunnel.connector.origins import HttpOrigins
from ramparts.tunnel.connector.services import (
    HelloWorldService,
    HttpService,
    StatusService,
    TcpService,
    UnixService,
)
from ramparts.tunnel.mux import MuxStream
from ramparts.tunnel.protocol import (
    DialMeta,
    ErrorCode,
    HttpRequestMeta,
    ResponseMeta,
    StreamKind,
)
from ramparts.tunnel.splice import splice

log = logging.getLogger(__name__)

HELLO_WORLD = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Ramparts</title></head>"
    "<body><h1>Congratulations! Your tunnel works.</h1>"
    f"<p>This page is served by the Ramparts connector {__version__} (hello_world service).</p>"
    "</body></html>"
).encode()

RulesProvider = Callable[[], IngressRules]


class OriginProxy:
    """Serves every stream the edge opens on any of the connector's connections."""

    def __init__(self, rules: RulesProvider, origins: HttpOrigins | None = None) -> None:
        self._rules = rules
        self.origins = origins or HttpOrigins()

    async def handle(self, stream: MuxStream) -> None:
        meta = stream.meta
        if isinstance(meta, HttpRequestMeta):
            await self._http(stream, meta)
        elif isinstance(meta, DialMeta) and meta.kind is StreamKind.TCP:
            await self._tcp(stream, meta)
        else:
            stream.reject(ErrorCode.DESTINATION_DENIED, "stream kind not served by this connector")

    async def close(self) -> None:
        await self.origins.close()

    async def _http(self, stream: MuxStream, meta: HttpRequestMeta) -> None:
        path = meta.path.split("?", 1)[0] or "/"
        _index, rule = self._rules().match(meta.host, path)
        service = rule.service
        if isinstance(service, StatusService):
            stream.respond(
                ResponseMeta(status=service.status, headers=((b"content-length", b"0"),)),
                end_stream=True,
            )
        elif isinstance(service, HelloWorldService):
            stream.respond(
                ResponseMeta(
                    status=200,
                    headers=(
                        (b"content-type", b"text/html; charset=utf-8"),
                        (b"content-length", str(len(HELLO_WORLD)).encode()),
                    ),
                )
            )
            await stream.write(HELLO_WORLD)
            stream.end()
        elif isinstance(service, HttpService | UnixService):
            await self.origins.serve(stream, meta, service, rule.origin_request)
        else:
            stream.reject(ErrorCode.NO_INGRESS_RULE, f"rule {rule.number} is not an HTTP service")

    async def _tcp(self, stream: MuxStream, meta: DialMeta) -> None:
        _index, rule = self._rules().match(meta.host, "/")
        service = rule.service
        if not isinstance(service, TcpService):
            stream.reject(ErrorCode.NO_INGRESS_RULE, f"no TCP service for {meta.host}")
            return
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(service.host, service.port),
                rule.origin_request.connect_timeout,
            )
        except TimeoutError:
            stream.reject(ErrorCode.ORIGIN_TIMEOUT, f"{service.authority} did not answer")
            return
        except OSError as exc:
            log.warning(
                "origin unreachable", extra={"origin": service.authority, "reason": str(exc)}
            )
            stream.reject(
                ErrorCode.ORIGIN_UNREACHABLE, f"{service.authority}: {exc.strerror or exc}"
            )
            return
        stream.respond(ResponseMeta(status=200))
        await splice(stream, reader, writer)
