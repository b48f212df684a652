"""DNS locations: the edge's filtering resolver.

- ``wire/``: the sans-IO wire format on bytes (query fast path, responses, builders, patching);
  ``cache``: the answer cache (views, TTL ageing, RFC 2308 negative caching, prefetch hints).
- ``locations``: which location a query belongs to (source CIDR, DoT SNI, DoH URL/host).
- ``plan``: policy verdicts per (location, name, type) and snapshot; ``safesearch``;
  ``synthesize``: CNAME answers composed from the target's records.
- ``resolver``: the pipeline every listener calls (``handle`` / ``complete``).
- ``upstream/``: asyncio transports (UDP, TCP, DoT, DoH) with health and failover.
- ``listeners/``: UDP, TCP, DoT and DoH servers; ``service``: the edge service that runs them,
  worker processes (``worker``); ``querylog`` / ``logwriter``: the query log; ``stats``.

``wire/`` and ``cache`` take bytes and an explicit ``now``: no sockets, no clocks, no asyncio.
"""
