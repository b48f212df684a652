"""One proxied request or tunnel as it is judged and logged, and the refusal that ends one."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from ramparts.config.proxy import ProxyEndpointEntry
from ramparts.config.snapshot import Snapshot
from ramparts.proxy.destination import IpAddress
from ramparts.proxy.identify import ProxyUser
from ramparts.proxy.pages import Page
from ramparts.proxy.requestlog import RequestRecord
from ramparts.proxy.verdict import HttpPolicies, Verdict


@dataclass(frozen=True, slots=True)
class InspectedTarget:
    """The destination of an opened-up (TLS-inspected) tunnel: every request inside goes
    there, for the endpoint and user the CONNECT was made by."""

    host: str
    port: int
    endpoint: ProxyEndpointEntry | None
    user: ProxyUser | None
    addresses: tuple[IpAddress, ...]


@dataclass(frozen=True, slots=True)
class ProxyState:
    """What one snapshot means to the proxy (built once per snapshot)."""

    snapshot: Snapshot
    policies: HttpPolicies


@dataclass(slots=True)
class Exchange:
    """One request or tunnel, as it will be logged."""

    started: float
    src_ip: str
    kind: str = "http"
    method: str = ""
    host: str = ""
    url: str = ""
    endpoint: ProxyEndpointEntry | None = None
    user: ProxyUser | None = None
    decision: str = "allow"
    verdict: Verdict | None = None
    status: int = 0
    bytes_up: int = 0
    bytes_down: int = 0

    def record(self) -> RequestRecord:
        endpoint = self.endpoint
        verdict = self.verdict
        return RequestRecord(
            at=dt.datetime.now(dt.UTC),
            endpoint_id=endpoint.id if endpoint else None,
            endpoint_name=endpoint.name if endpoint else "",
            src_ip=self.src_ip,
            user_email=self.user.email if self.user else "",
            kind=self.kind,
            method=self.method,
            host=self.host,
            url=self.url,
            decision=self.decision,
            policy_id=verdict.policy_id if verdict else "",
            policy_name=verdict.policy_name if verdict else "",
            status=self.status,
            bytes_up=self.bytes_up,
            bytes_down=self.bytes_down,
            duration_us=int((time.monotonic() - self.started) * 1_000_000),
        )


class Refusal(Exception):
    """Answer this page instead of proxying; ``decision`` goes to the log."""

    def __init__(self, page: Page, decision: str) -> None:
        super().__init__(decision)
        self.page = page
        self.decision = decision
