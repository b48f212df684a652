"""What every proxy connection shares: limits, resolver, pools, logs, sessions, and the hooks
into Access (login URLs) and PAC files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ramparts.config.proxy import ProxyEndpointEntry
from ramparts.config.snapshot import Snapshot
from ramparts.proxy.destination import DestinationResolver, Listener
from ramparts.proxy.identify import BrowserSessions
from ramparts.proxy.limits import CONNECT_TIMEOUT, HEAD_TIMEOUT, IDLE_TIMEOUT, TOTAL_TIMEOUT
from ramparts.proxy.origin import OriginPool
from ramparts.proxy.requestlog import RequestLog

if TYPE_CHECKING:
    from ramparts.proxy.inspect import Inspector


@dataclass(frozen=True, slots=True)
class ProxyLimits:
    head_timeout: float = HEAD_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    total_timeout: float | None = TOTAL_TIMEOUT
    connect_timeout: float = CONNECT_TIMEOUT


LoginUrl = Callable[[Snapshot, ProxyEndpointEntry, str, str], "str | None"]
"""(snapshot, endpoint, client ip, URL to return to) -> the browser login URL, or None."""
PacText = Callable[[Snapshot, ProxyEndpointEntry, bytes | None], str]
"""(snapshot, endpoint, Host of the PAC request) -> the PAC file."""


@dataclass(slots=True)
class ProxyContext:
    limits: ProxyLimits
    resolver: DestinationResolver
    pool: OriginPool
    log: RequestLog
    sessions: BrowserSessions
    login_url: LoginUrl
    pac: PacText
    via: bytes  # our Via pseudonym: requests already carrying it are loops
    listeners: list[Listener] = field(default_factory=list)
    draining: bool = False
    inspector: Inspector | None = None  # when the team CA's key is here (TLS inspection)
