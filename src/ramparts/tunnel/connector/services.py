"""The ``service`` of an ingress rule: where matching requests go.

Forms (cloudflared's): ``http://host[:port][/path]`` and ``https://…`` (also ``ws://``/``wss://``,
which are HTTP), ``unix:/path/to.sock`` and ``unix+tls:/path`` (HTTP over a Unix socket),
``tcp://host:port``, ``ssh://host[:22]``, ``rdp://host[:3389]``, ``smb://host[:445]`` (raw TCP
streams, reached with ``ramparts access tcp|ssh``), ``http_status:NNN`` and ``hello_world``.

Unlike cloudflared, an HTTP service may carry a path: it is a prefix, and the request's own
path is appended to it (``http://app:8000/api`` + ``/v1/x`` -> ``/api/v1/x``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ramparts.tunnel.connector.errors import quote_for_message
from ramparts.tunnel.connector.values import Where, describe

#: Scheme -> whether the connection to the origin uses TLS. ws/wss are HTTP (Upgrade) origins.
HTTP_SCHEMES = {"http": False, "https": True, "ws": False, "wss": True}
#: Scheme -> default port for TCP-stream services (tcp has none: a port is required).
TCP_SCHEMES: dict[str, int | None] = {"tcp": None, "ssh": 22, "rdp": 3389, "smb": 445}
HTTPS_PORT, HTTP_PORT = 443, 80
HELLO_WORLD_NAMES = ("hello_world", "hello-world")
#: cloudflared services Ramparts does not offer, with what to use instead.
UNSUPPORTED_SERVICES = {
    "bastion": "use ssh:// or tcp:// services for each host instead",
    "socks-proxy": "use private network routes instead",
}
#: Status codes a ``http_status:`` service may answer with (RFC 9110 §15: 100-599).
MIN_STATUS, MAX_STATUS = 100, 599
#: Longest Unix socket path in bytes: sockaddr_un.sun_path is 108 bytes on Linux, with a NUL.
MAX_UNIX_PATH_BYTES = 107
#: Longest service text accepted (a URL; generous, well above any real origin address).
MAX_SERVICE_CHARS = 2048

_HOST_RE = re.compile(r"[\w.-]+")  # registered names (IDNs allowed; the dialer encodes them)


@dataclass(frozen=True, slots=True)
class HttpService:
    """An HTTP(S) origin. ``path`` is a prefix ('' for none); ``url`` is the text as written."""

    url: str
    tls: bool
    host: str  # IPv6 addresses without brackets
    port: int
    path: str = ""

    @property
    def authority(self) -> str:
        return _authority(self.host, self.port)

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True, slots=True)
class UnixService:
    """HTTP (``tls`` False) or HTTPS over a Unix domain socket."""

    path: str
    tls: bool = False

    def __str__(self) -> str:
        return f"unix+tls:{self.path}" if self.tls else f"unix:{self.path}"


@dataclass(frozen=True, slots=True)
class TcpService:
    """A raw TCP origin; ``scheme`` (tcp, ssh, rdp, smb) only names the protocol."""

    scheme: str
    host: str
    port: int

    @property
    def authority(self) -> str:
        return _authority(self.host, self.port)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}"


@dataclass(frozen=True, slots=True)
class StatusService:
    """Answer every request with this status and an empty body (e.g. a 404 catch-all)."""

    status: int

    def __str__(self) -> str:
        return f"http_status:{self.status}"


@dataclass(frozen=True, slots=True)
class HelloWorldService:
    """The built-in test page served by the connector itself."""

    def __str__(self) -> str:
        return "hello_world"


Service = HttpService | UnixService | TcpService | StatusService | HelloWorldService


def parse_service(value: object, where: Where) -> Service:
    if value is None:
        where.fail("required (an origin URL, unix:/path, http_status:NNN or hello_world)")
    if not isinstance(value, str):
        where.fail(f"expected a string, got {describe(value)}")
    text = value
    if not text:
        where.fail("must not be empty")
    if len(text) > MAX_SERVICE_CHARS:
        where.fail(f"longer than {MAX_SERVICE_CHARS} characters")
    if not text.isprintable() or any(c.isspace() for c in text):
        where.fail(f"'{quote_for_message(text)}' contains spaces or control characters")
    if text in HELLO_WORLD_NAMES:
        return HelloWorldService()
    if text in UNSUPPORTED_SERVICES:
        where.fail(f"'{text}' is not supported: {UNSUPPORTED_SERVICES[text]}")
    if text.startswith("http_status:"):
        return _parse_status(text.removeprefix("http_status:"), where)
    if text.startswith("unix+tls:"):
        return UnixService(_unix_path(text.removeprefix("unix+tls:"), where), tls=True)
    if text.startswith("unix:"):
        return UnixService(_unix_path(text.removeprefix("unix:"), where), tls=False)
    return _parse_url(text, where)


def _parse_status(digits: str, where: Where) -> StatusService:
    if not (len(digits) == 3 and digits.isascii() and digits.isdigit()):
        where.fail(f"invalid HTTP status '{quote_for_message(digits, 16)}' (three digits)")
    status = int(digits)
    if not MIN_STATUS <= status <= MAX_STATUS:
        where.fail(f"HTTP status {status} is outside {MIN_STATUS}-{MAX_STATUS}")
    return StatusService(status)


def _unix_path(path: str, where: Where) -> str:
    if not path:
        where.fail("unix: needs a socket path, e.g. unix:/run/app.sock")
    try:
        size = len(path.encode())
    except UnicodeEncodeError:
        where.fail("the socket path is not valid text")
    if size > MAX_UNIX_PATH_BYTES:
        where.fail(f"socket path longer than {MAX_UNIX_PATH_BYTES} bytes (the Unix limit)")
    return path


def _parse_url(text: str, where: Where) -> HttpService | TcpService:
    scheme, sep, _ = text.partition("://")
    if not sep or not scheme:
        where.fail(
            f"'{quote_for_message(text)}' is not an origin: expected scheme://host[:port]"
            " (http, https, tcp, ssh, rdp, smb), unix:/path, http_status:NNN or hello_world"
        )
    scheme = scheme.lower()
    if scheme not in HTTP_SCHEMES and scheme not in TCP_SCHEMES:
        where.fail(f"unsupported scheme '{quote_for_message(scheme, 32)}'")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        where.fail(f"invalid origin URL '{quote_for_message(text)}': {exc}")
    host = parts.hostname or ""
    if not host:
        where.fail(f"'{quote_for_message(text)}' has no host")
    if parts.username is not None or parts.password is not None:
        where.fail("credentials in the origin URL are not supported")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        where.fail("the origin URL must not have a query or fragment")
    if "[" in parts.netloc:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            where.fail(f"invalid IPv6 address '{quote_for_message(host)}'")
    elif not _HOST_RE.fullmatch(host):
        where.fail(f"invalid host '{quote_for_message(host)}'")
    if port == 0:
        where.fail("port 0 is not a valid origin port")
    if scheme in HTTP_SCHEMES:
        tls = HTTP_SCHEMES[scheme]
        port = port if port is not None else (HTTPS_PORT if tls else HTTP_PORT)
        return HttpService(text, tls, host, port, parts.path.rstrip("/"))
    if parts.path not in ("", "/"):
        where.fail(f"a {scheme}:// service has no path")
    if port is None:
        default = TCP_SCHEMES[scheme]
        if default is None:
            where.fail(f"a {scheme}:// service needs a port, e.g. {scheme}://localhost:5432")
        port = default
    return TcpService(scheme, host, port)


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
