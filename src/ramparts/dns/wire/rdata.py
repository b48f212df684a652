"""RDATA that holds domain names: validated and written out without compression.

Only the types whose names may be compressed (RFC 3597 §4: NS, MD, MF, CNAME, SOA, MB, MG,
MR, PTR, MINFO, MX) need this; other RDATA is opaque to the resolver and copied as is.
"""

from __future__ import annotations

from ramparts.dns.errors import NameFormatError
from ramparts.dns.wire.names import read_name

ONE_NAME_TYPES = frozenset({2, 3, 4, 5, 7, 8, 9, 12})
"""NS, MD, MF, CNAME, MB, MG, MR, PTR: RDATA is exactly one name."""
TYPE_SOA = 6
TYPE_MINFO = 14
TYPE_MX = 15
COMPRESSIBLE_TYPES = ONE_NAME_TYPES | {TYPE_SOA, TYPE_MINFO, TYPE_MX}
SOA_FIXED_LENGTH = 20
"""SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM (RFC 1035 §3.3.13)."""
MX_PREFERENCE_LENGTH = 2


def expand_rdata(packet: bytes, rtype: int, start: int, end: int) -> bytes:
    """RDATA at ``packet[start:end]`` with names uncompressed; ``NameFormatError`` when the
    names do not exactly fill it (or, for SOA, the fixed fields are not 20 octets)."""
    if rtype in ONE_NAME_TYPES:
        name, after = read_name(packet, start)
        _expect(after == end, "name does not fill the record data")
        return name
    if rtype == TYPE_MX:
        _expect(end - start > MX_PREFERENCE_LENGTH, "MX data too short")
        name, after = read_name(packet, start + MX_PREFERENCE_LENGTH)
        _expect(after == end, "name does not fill the record data")
        return packet[start : start + MX_PREFERENCE_LENGTH] + name
    if rtype in (TYPE_SOA, TYPE_MINFO):
        first, after = read_name(packet, start)
        _expect(after < end, "names run past the record data")
        second, after = read_name(packet, after)
        fixed = SOA_FIXED_LENGTH if rtype == TYPE_SOA else 0
        _expect(end - after == fixed, "wrong length of fixed fields after the names")
        return first + second + packet[after:end]
    return packet[start:end]


def _expect(condition: bool, reason: str) -> None:
    if not condition:
        raise NameFormatError(reason)
