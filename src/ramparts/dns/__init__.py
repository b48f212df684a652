"""DNS resolver capability: the sans-IO wire fast path (``ramparts.dns.wire``) and the answer
cache (``ramparts.dns.cache``).

Everything here works on ``bytes`` and an explicit ``now``: no sockets, no asyncio, no clock
reads. Listeners, upstream clients and the policy engine live elsewhere and call these modules.
"""
