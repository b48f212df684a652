"""Settings of one edge node: where each service listens and how it drains."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

from ramparts.serving import format_address

DEFAULT_HTTPS_PORT = 7843
DEFAULT_TUNNEL_PORT = 7844  # the brief's tunnel port, TCP and UDP
DEFAULT_ADMIN_PORT = 7845
DEFAULT_DNS_PORT = 7853  # plain DNS, UDP and TCP (53 in production; unprivileged by default)
DEFAULT_DOT_PORT = 7854  # DNS over TLS (853 in production)
DEFAULT_DOH_PORT = 7855  # DNS over HTTPS (443 in production)
DEFAULT_PROXY_PORT = 7846  # forward proxy, plain (squid's 3128 in many networks)
DEFAULT_PROXY_TLS_PORT = 7847  # forward proxy over TLS ("HTTPS host:port" in PAC files)


@dataclass(slots=True)
class EdgeSettings:
    data_dir: Path
    name: str = field(default_factory=socket.gethostname)
    bind_host: str = "127.0.0.1"
    https_port: int = DEFAULT_HTTPS_PORT
    tunnel_port: int = DEFAULT_TUNNEL_PORT
    # host:port connectors should dial, when they reach this edge by another address (NAT, DNS)
    tunnel_advertise: str | None = None
    admin_host: str = "127.0.0.1"
    admin_port: int = DEFAULT_ADMIN_PORT
    hostnames: list[str] = field(default_factory=list)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    drain_timeout: float = 10.0
    dns_port: int = DEFAULT_DNS_PORT
    dot_port: int = DEFAULT_DOT_PORT
    doh_port: int = DEFAULT_DOH_PORT
    dns_workers: int = 1
    poll_interval: float = 2.0
    proxy_port: int = DEFAULT_PROXY_PORT
    proxy_tls_port: int | None = DEFAULT_PROXY_TLS_PORT
    # DNS server ("host:port") the proxy resolves destinations with; None: the system's
    proxy_resolver: str | None = None
    # extra CA bundle the proxy trusts for inspected HTTPS destinations (tests, private PKI)
    proxy_origin_ca: Path | None = None

    @property
    def advertised_tunnel_address(self) -> str:
        if self.tunnel_advertise:
            return self.tunnel_advertise
        return format_address(self.bind_host, self.tunnel_port)
