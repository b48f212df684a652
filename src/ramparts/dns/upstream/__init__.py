"""Upstream resolvers: asyncio transports (UDP, TCP, DoT, DoH) and failover groups."""

from ramparts.dns.upstream.pool import (
    UpstreamAnswer,
    UpstreamGroup,
    UpstreamPool,
    UpstreamServer,
)

__all__ = ["UpstreamAnswer", "UpstreamGroup", "UpstreamPool", "UpstreamServer"]
