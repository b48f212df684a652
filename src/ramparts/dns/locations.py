"""Which DNS location a query belongs to: by source network (plain DNS, longest prefix),
by the id in the TLS server name (DoT) or in the URL (DoH), then the team's default.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from ramparts.config.dns import DnsConfig, DnsLocationEntry, Unmatched

UNMATCHED: Final = DnsLocationEntry("", "", (), False)
"""Served, but in no location: policies see no ``dns.location``."""
MAX_SOURCE_CACHE = 65_536
"""Source addresses remembered per snapshot (cleared when full: lookups are cheap anyway)."""


class LocationTable:
    """Built once per snapshot; lookups never allocate on a repeated source address."""

    def __init__(self, config: DnsConfig, team_domain: str) -> None:
        self.by_id = {loc.id: loc for loc in config.locations}
        self.default = config.default_location
        self.unmatched_plain = config.unmatched_plain
        self.unmatched_encrypted = config.unmatched_encrypted
        self.team_domain = team_domain.lower().rstrip(".")
        self.dns_host = f"dns.{self.team_domain}"
        self._dot_suffix = f".dns.{self.team_domain}"
        tables: dict[int, dict[int, dict[int, DnsLocationEntry]]] = {4: {}, 6: {}}
        for loc in config.locations:
            for net in loc.networks:
                tables[net.version].setdefault(net.prefixlen, {})[int(net.network_address)] = loc
        # (mask, {network: location}) from the longest prefix down.
        self._v4 = [(_mask(32, p), t) for p, t in sorted(tables[4].items(), reverse=True)]
        self._v6 = [(_mask(128, p), t) for p, t in sorted(tables[6].items(), reverse=True)]
        self._sources: dict[str, DnsLocationEntry | None] = {}

    def by_source(self, src_ip: str) -> DnsLocationEntry | None:
        """The location whose networks hold ``src_ip`` most specifically, or ``None``."""
        sources = self._sources
        if src_ip in sources:
            return sources[src_ip]
        found = self._lookup(src_ip)
        if len(sources) >= MAX_SOURCE_CACHE:
            sources.clear()
        sources[src_ip] = found
        return found

    def _lookup(self, src_ip: str) -> DnsLocationEntry | None:
        try:
            address = ipaddress.ip_address(src_ip.split("%", 1)[0])
        except ValueError:
            return None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        value = int(address)
        for mask, table in self._v4 if address.version == 4 else self._v6:
            loc = table.get(value & mask)
            if loc is not None:
                return loc
        return None

    def id_from_server_name(self, server_name: str | None) -> str | None:
        """``<id>.dns.<team domain>`` -> ``<id>`` (DoT SNI, DoH Host); ``None`` otherwise."""
        if not server_name:
            return None
        name = server_name.lower().rstrip(".")
        if name.endswith(self._dot_suffix):
            label = name[: -len(self._dot_suffix)]
            if label and "." not in label:
                return label
        return None

    def plain(self, src_ip: str) -> DnsLocationEntry | None:
        """Location of a plain DNS query; ``None`` means refuse it."""
        loc = self.by_source(src_ip)
        if loc is not None:
            return loc
        if self.unmatched_plain is Unmatched.SERVE:
            return self.default or UNMATCHED
        return None

    def encrypted(self, location_id: str | None, src_ip: str) -> DnsLocationEntry | None:
        """Location of a DoT/DoH query naming ``location_id`` (or nothing); ``None`` means
        refuse. An id that names no location is refused: the location was deleted."""
        if location_id:
            return self.by_id.get(location_id)
        loc = self.by_source(src_ip)
        if loc is not None:
            return loc
        if self.unmatched_encrypted is Unmatched.SERVE:
            return self.default or UNMATCHED
        return None


def _mask(bits: int, prefix: int) -> int:
    return ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)
