"""DNS over HTTPS to an upstream (RFC 8484 §4.1: POST ``application/dns-message``, ID 0).

httpx carries the requests, over HTTP/2 when the server offers it (the ``h2`` package).
The connection goes to a bootstrap IP while TLS checks the configured name (SNI and
certificate), so the resolver never needs DNS to find its own upstream.
"""

from __future__ import annotations

import ssl

import httpx

from ramparts.dns.constants import HEADER_SIZE, MAX_MESSAGE_SIZE
from ramparts.dns.errors import UpstreamTimeout, UpstreamUnavailable

DNS_MESSAGE = "application/dns-message"
MAX_CONNECTIONS = 16
KEEPALIVE_EXPIRY = 20.0  # seconds an idle connection is kept, as for TCP upstreams

try:  # HTTP/2 when the h2 package is installed (it multiplexes queries on one connection)
    import h2  # noqa: F401

    HTTP2 = True
except ImportError:  # pragma: no cover - h2 is installed with the DNS extras
    HTTP2 = False


class DohTransport:
    def __init__(
        self,
        address: str,
        port: int,
        path: str,
        host: str,
        ssl_context: ssl.SSLContext,
        tls_name: str,
    ) -> None:
        ip = f"[{address}]" if ":" in address else address
        self._url = f"https://{ip}:{port}{path}"
        authority = f"[{host}]" if ":" in host else host
        self._headers = {
            "host": authority if port == 443 else f"{authority}:{port}",
            "accept": DNS_MESSAGE,
            "content-type": DNS_MESSAGE,
        }
        self._extensions = {"sni_hostname": tls_name} if tls_name else {}
        self.label = f"https://{authority}:{port}{path} via {address}"
        self._client = httpx.AsyncClient(
            http2=HTTP2,
            verify=ssl_context,
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS, keepalive_expiry=KEEPALIVE_EXPIRY),
            follow_redirects=False,
            trust_env=False,
        )

    async def exchange(self, query: bytes, budget: float) -> tuple[int, bytes]:
        body = b"\x00\x00" + query[2:]
        try:
            response = await self._client.post(
                self._url,
                content=body,
                headers=self._headers,
                extensions={**self._extensions, "timeout": _timeouts(budget)},
            )
        except httpx.TimeoutException:
            raise UpstreamTimeout(f"{self.label}: no answer in {budget:.1f}s") from None
        except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
            raise UpstreamUnavailable(f"{self.label}: {exc}") from None
        content = response.content
        if response.status_code != 200:
            raise UpstreamUnavailable(f"{self.label}: HTTP {response.status_code}")
        if not response.headers.get("content-type", "").startswith(DNS_MESSAGE):
            raise UpstreamUnavailable(f"{self.label}: not a DNS message")
        if not HEADER_SIZE <= len(content) <= MAX_MESSAGE_SIZE:
            raise UpstreamUnavailable(f"{self.label}: bad message length")
        return 0, content

    async def close(self) -> None:
        await self._client.aclose()


def _timeouts(timeout: float) -> dict[str, float]:
    return {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
