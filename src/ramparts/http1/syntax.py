"""Byte classes and compiled patterns of the HTTP/1.1 grammar (RFC 9110 §5.6, RFC 9112)."""

from __future__ import annotations

import re

TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
"""token characters (RFC 9110 §5.6.2), as a regex class body."""

FIELD_VALUE_CLASS = rb"\t\x20-\x7e\x80-\xff"
"""field-vchar / SP / HTAB (RFC 9110 §5.5): VCHAR, obs-text and inner whitespace."""

TOKEN_RE = re.compile(rb"[" + TCHAR + rb"]+")
FIELD_VALUE_RE = re.compile(rb"[" + FIELD_VALUE_CLASS + rb"]*")

FIELD_LINE_RE = re.compile(
    rb"\n([" + TCHAR + rb"]++):[ \t]*+([" + FIELD_VALUE_CLASS + rb"]*+)(?<![ \t])\r(?=\n)"
)
"""One well-formed field line, matched from the LF that ends the previous line. Values with
trailing whitespace deliberately fail here and are handled by the careful line-by-line path."""

HEAD_END_RE = re.compile(rb"\r\n\r\n")
"""The empty line ending a head; sre's prefix search (memchr on CR) beats bytes.find here."""

VCHAR_BYTES = bytes(range(0x21, 0x7F))
"""VCHAR: ``target.translate(None, VCHAR_BYTES)`` is empty iff the target is all VCHAR."""

FIELD_VALUE_BYTES = b"\t" + bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))

VERSION_RE = re.compile(rb"HTTP/([0-9])\.([0-9])")

STATUS_LINE_RE = re.compile(
    rb"HTTP/([0-9])\.([0-9]) ([1-9][0-9][0-9])(?: ([\t\x20-\x7e\x80-\xff]*+))?+"
)
"""RFC 9112 §4; a missing reason phrase (and its SP) is tolerated, as most clients do."""

_HOST_NAME = rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)"
HOST_RE = re.compile(_HOST_NAME + rb"(?::[0-9]*)?")
"""Host field value: uri-host [ ":" port ] (RFC 9110 §7.2); may be empty."""

AUTHORITY_RE = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+):[0-9]{1,5}")
"""CONNECT's authority-form: host ":" port, the port required (RFC 9112 §3.2.3)."""

ABSOLUTE_RE = re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]*://")
"""Start of an absolute-form target (RFC 9112 §3.2.2) as proxies receive it."""

CHUNK_LINE_RE = re.compile(
    rb"([0-9A-Fa-f]++)"
    rb"((?:[ \t]*+;[ \t]*+[" + TCHAR + rb"]++"
    rb"(?:[ \t]*+=[ \t]*+(?:[" + TCHAR + rb"]++|\"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]"
    rb"|\\[\t\x20-\x7e\x80-\xff])*+\"))?+)*+)"
)
"""chunk-size [ chunk-ext ] (RFC 9112 §7.1.1), without the CRLF; BWS around ';' and '='.
Possessive quantifiers: the pieces are disjoint, so nothing is lost, and a refused line costs
one linear pass instead of backtracking."""
