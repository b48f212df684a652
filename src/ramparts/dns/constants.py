"""DNS numbers and limits used by the wire layer and the cache (each with its source)."""

from __future__ import annotations

from typing import Final

# --- Header (RFC 1035 §4.1.1) -------------------------------------------------------------
HEADER_SIZE: Final = 12
"""Fixed DNS header: ID, flags, QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT (2 bytes each)."""

FLAG_QR: Final = 0x8000
FLAG_AA: Final = 0x0400
FLAG_TC: Final = 0x0200
FLAG_RD: Final = 0x0100
FLAG_RA: Final = 0x0080
FLAG_Z: Final = 0x0040
FLAG_AD: Final = 0x0020  # RFC 4035 §3.2.3
FLAG_CD: Final = 0x0010  # RFC 4035 §3.2.2
OPCODE_SHIFT: Final = 11
OPCODE_MASK: Final = 0x7800
RCODE_MASK: Final = 0x000F

# --- Opcodes (IANA DNS OpCodes) -----------------------------------------------------------
OPCODE_QUERY: Final = 0
OPCODE_IQUERY: Final = 1
OPCODE_STATUS: Final = 2
OPCODE_NOTIFY: Final = 4
OPCODE_UPDATE: Final = 5

# --- Response codes (RFC 1035 §4.1.1, RFC 6891 §9 for the extended ones) -------------------
RCODE_NOERROR: Final = 0
RCODE_FORMERR: Final = 1
RCODE_SERVFAIL: Final = 2
RCODE_NXDOMAIN: Final = 3
RCODE_NOTIMP: Final = 4
RCODE_REFUSED: Final = 5
RCODE_BADVERS: Final = 16
"""Extended RCODE: needs an OPT record (upper 8 bits live in the OPT TTL field)."""

# --- Types and classes (IANA DNS parameters) ----------------------------------------------
TYPE_A: Final = 1
TYPE_NS: Final = 2
TYPE_CNAME: Final = 5
TYPE_SOA: Final = 6
TYPE_PTR: Final = 12
TYPE_MX: Final = 15
TYPE_TXT: Final = 16
TYPE_AAAA: Final = 28
TYPE_DNAME: Final = 39
TYPE_OPT: Final = 41
TYPE_RRSIG: Final = 46
TYPE_HTTPS: Final = 65
TYPE_IXFR: Final = 251
TYPE_AXFR: Final = 252
TYPE_ANY: Final = 255
CLASS_IN: Final = 1
CLASS_ANY: Final = 255

# --- Names (RFC 1035 §2.3.4, §4.1.4) ------------------------------------------------------
MAX_LABEL_LENGTH: Final = 63
"""A label is at most 63 octets; length bytes 0x40..0xBF are not ordinary labels."""
MAX_NAME_LENGTH: Final = 255
"""A name on the wire (length bytes and the root byte included) is at most 255 octets."""
POINTER_MASK: Final = 0xC0
"""The two top bits of a length byte set mean a compression pointer (14-bit offset)."""

# --- EDNS (RFC 6891) ----------------------------------------------------------------------
EDNS_VERSION: Final = 0
"""The only EDNS version defined; anything else gets BADVERS (RFC 6891 §6.1.3)."""
EDNS_DO: Final = 0x8000
"""DNSSEC OK bit, top bit of the 16 flag bits in the OPT TTL (RFC 3225 §3)."""
EDNS_MIN_UDP_SIZE: Final = 512
"""Advertised sizes below 512 are treated as 512 (RFC 6891 §6.2.5)."""
CLASSIC_UDP_SIZE: Final = 512
"""Largest UDP answer to a client without EDNS (RFC 1035 §4.2.1)."""
DEFAULT_MAX_UDP_SIZE: Final = 1232
"""Our cap on UDP answers whatever the client advertises: the DNS Flag Day 2020 value, which
avoids IP fragmentation on common paths."""
SERVER_UDP_SIZE: Final = 1232
"""The UDP payload size we advertise in our own OPT records (same reason)."""

OPTION_CLIENT_SUBNET: Final = 8  # RFC 7871
OPTION_COOKIE: Final = 10  # RFC 7873
OPTION_PADDING: Final = 12  # RFC 7830
OPTION_EDE: Final = 15  # RFC 8914

ECS_FAMILY_IPV4: Final = 1
ECS_FAMILY_IPV6: Final = 2

# --- Extended DNS Error info codes (RFC 8914 §4) ------------------------------------------
EDE_OTHER: Final = 0
EDE_STALE_ANSWER: Final = 3
EDE_FORGED_ANSWER: Final = 4
EDE_PROHIBITED: Final = 18
EDE_BLOCKED: Final = 15
EDE_CENSORED: Final = 16
EDE_FILTERED: Final = 17
EDE_NOT_READY: Final = 14
EDE_NETWORK_ERROR: Final = 23

MAX_EDE_TEXT_BYTES: Final = 255
"""Our cap on EXTRA-TEXT so a misconfigured message cannot blow a UDP answer (RFC 8914 §2
sets no limit; keep the option small)."""

# --- Parsing limits -----------------------------------------------------------------------
MAX_MESSAGE_SIZE: Final = 65535
"""A DNS message never exceeds 65535 octets (the TCP length prefix, RFC 1035 §4.2.2)."""
MAX_CNAME_CHAIN: Final = 16
"""Longest CNAME chain followed inside one response; unbound and BIND stop around 8-16."""
