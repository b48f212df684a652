"""PAC files (proxy auto-config): the generated one of an endpoint, and checks of custom ones.

Pure functions, no I/O. A PAC file is JavaScript defining ``FindProxyForURL(url, host)``
(Netscape's 1996 specification, still what browsers run); the result string lists proxies in
order, ``HTTPS host:port`` for a TLS proxy and ``PROXY host:port`` for a plain one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from ramparts.config.proxy import ProxyConfigError, ProxyEndpointEntry

MAX_PAC_BYTES = 64 * 1024
"""Custom PAC files above this are refused: browsers run the file for every URL, and real
PAC files are a few KiB (a large list of hosts belongs in a policy, not in the PAC)."""
PAC_CONTENT_TYPE = "application/x-ns-proxy-autoconfig"
"""The media type browsers expect for a PAC file (Netscape's specification)."""
MAX_DIRECT_DOMAINS = 256  # bounds the generated file (each is a string compare per URL)
ENTRY_FUNCTION = "FindProxyForURL"

PRIVATE_IPV4 = (
    ("127.0.0.0", "255.0.0.0"),  # loopback, RFC 1122 §3.2.1.3
    ("10.0.0.0", "255.0.0.0"),  # RFC 1918
    ("172.16.0.0", "255.240.0.0"),  # RFC 1918
    ("192.168.0.0", "255.255.0.0"),  # RFC 1918
    ("169.254.0.0", "255.255.0.0"),  # link-local, RFC 3927
    ("100.64.0.0", "255.192.0.0"),  # shared address space (CGNAT), RFC 6598
)
"""IPv4 ranges a browser reaches directly: the edge refuses them by default anyway."""
PRIVATE_IPV6_PATTERNS = ("::1", "fe8?:*", "fe9?:*", "fea?:*", "feb?:*", "fc*", "fd*")
"""IPv6 literals reached directly: loopback, link-local fe80::/10, ULA fc00::/7 (RFC 4193).
Only literals: the classic ``dnsResolve`` returns IPv4 addresses."""

_PROXY_ADDRESS = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")
_DOMAIN = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*$")


def _check_address(address: str) -> str:
    if not _PROXY_ADDRESS.match(address) or not 0 < int(address.rsplit(":", 1)[1]) < 65536:
        raise ProxyConfigError(f"{address!r} is not a proxy address (host:port)")
    return address


def _domains(direct_domains: Sequence[str]) -> list[str]:
    """Lower-cased, without wildcards or dots at the ends; invalid names dropped."""
    out: dict[str, None] = {}
    for raw in direct_domains:
        name = raw.strip().lower().removeprefix("*.").strip(".")
        if name and len(name) <= 253 and _DOMAIN.match(name):
            out[name] = None
    return list(out)[:MAX_DIRECT_DOMAINS]


def direct_domains(team_domain: str, idp_urls: Iterable[str]) -> tuple[str, ...]:
    """The domains a generated PAC file sends DIRECT: the team domain (Access login pages,
    applications) and the hosts of the identity providers' URLs (OIDC issuers), so that a
    browser can always reach the login that lets it through the proxy."""
    hosts = [team_domain]
    for url in idp_urls:
        try:
            host = urlsplit(url).hostname
        except ValueError:
            continue
        if host:
            hosts.append(host)
    return tuple(_domains(hosts))


def default_pac(
    *, proxy_http: str | None, proxy_https: str | None, direct_domains: Sequence[str]
) -> str:
    """The generated PAC file: plain host names, ``localhost``, the given domains (the team
    domain, the identity providers) and private or loopback destinations go DIRECT;
    everything else through the proxy, over TLS first when ``proxy_https`` is given."""
    targets = []
    if proxy_https:
        targets.append(f"HTTPS {_check_address(proxy_https)}")
    if proxy_http:
        targets.append(f"PROXY {_check_address(proxy_http)}")
    if not targets:
        raise ProxyConfigError("no proxy address to put in the PAC file")
    route = "; ".join(targets)
    domains = json.dumps(_domains(direct_domains), ensure_ascii=True)
    nets = ",\n    ".join(f'["{net}", "{mask}"]' for net, mask in PRIVATE_IPV4)
    v6 = json.dumps(list(PRIVATE_IPV6_PATTERNS))
    return f"""// Ramparts proxy auto-config (generated). Everything not listed here goes through
// the Ramparts proxy, where the team's HTTP policies apply.
var PROXY = {json.dumps(route)};
var DIRECT_DOMAINS = {domains};
var PRIVATE_IPV4 = [
    {nets}
];
var PRIVATE_IPV6 = {v6};

function {ENTRY_FUNCTION}(url, host) {{
  host = String(host).toLowerCase();
  if (host.charAt(0) == "[") {{
    host = host.substring(1, host.length - 1);
  }}
  if (host.indexOf(":") >= 0) {{
    for (var j = 0; j < PRIVATE_IPV6.length; j++) {{
      if (shExpMatch(host, PRIVATE_IPV6[j])) {{
        return "DIRECT";
      }}
    }}
    return PROXY;
  }}
  if (isPlainHostName(host) || host == "localhost" || dnsDomainIs(host, ".localhost")) {{
    return "DIRECT";
  }}
  for (var i = 0; i < DIRECT_DOMAINS.length; i++) {{
    if (host == DIRECT_DOMAINS[i] || dnsDomainIs(host, "." + DIRECT_DOMAINS[i])) {{
      return "DIRECT";
    }}
  }}
  var ip = /^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$/.test(host) ? host : dnsResolve(host);
  if (ip) {{
    for (var k = 0; k < PRIVATE_IPV4.length; k++) {{
      if (isInNet(ip, PRIVATE_IPV4[k][0], PRIVATE_IPV4[k][1])) {{
        return "DIRECT";
      }}
    }}
  }}
  return PROXY;
}}
"""


def render_pac(
    endpoint: ProxyEndpointEntry,
    *,
    proxy_http: str | None,
    proxy_https: str | None,
    direct_domains: Sequence[str],
) -> str:
    """The endpoint's custom PAC file when it has one, else the generated one."""
    if endpoint.pac:
        return endpoint.pac
    return default_pac(
        proxy_http=proxy_http, proxy_https=proxy_https, direct_domains=direct_domains
    )


def validate_pac(text: str) -> str:
    """A custom PAC file as given, or ``ProxyConfigError``: empty, too big, NUL bytes, text
    that is not UTF-8, or no ``FindProxyForURL`` function."""
    if not isinstance(text, str):
        raise ProxyConfigError("a PAC file is text")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ProxyConfigError("a PAC file is UTF-8 text") from None
    if size > MAX_PAC_BYTES:
        raise ProxyConfigError(f"a PAC file is at most {MAX_PAC_BYTES} bytes, not {size}")
    if "\x00" in text:
        raise ProxyConfigError("a PAC file holds no NUL characters")
    if ENTRY_FUNCTION not in text:
        raise ProxyConfigError(f"a PAC file defines function {ENTRY_FUNCTION}(url, host)")
    return text
