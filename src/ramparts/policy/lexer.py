"""Tokens of the Gateway expression language (wirefilter style)."""

from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass

from ramparts.policy.errors import PolicySyntaxError

#: Longest expression accepted. Large literal sets belong in lists; this bounds parse time.
MAX_EXPRESSION_CHARS = 256 * 1024
#: Integers are ports, sizes and categories; 18 digits stay far inside a 64-bit integer.
MAX_INT_DIGITS = 18


class TokenKind(enum.Enum):
    IDENT = "field name"
    STRING = "string"
    INT = "integer"
    IP = "IP address"
    LIST = "list reference"
    LPAREN = "'('"
    RPAREN = "')'"
    LBRACE = "'{'"
    RBRACE = "'}'"
    LBRACKET = "'['"
    RBRACKET = "']'"
    STAR = "'*'"
    DOT = "'.'"
    DOTDOT = "'..'"
    COMMA = "','"
    OP = "comparison operator"
    AND = "'and'"
    OR = "'or'"
    NOT = "'not'"
    ANY = "'any'"
    EOF = "end of expression"


IpValue = ipaddress.IPv4Network | ipaddress.IPv6Network
TokenValue = str | int | IpValue | None


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    start: int
    end: int
    #: Decoded string, integer, IP network, list name or canonical operator; None otherwise.
    value: TokenValue = None

    def describe(self) -> str:
        if self.kind is TokenKind.EOF:
            return "end of expression"
        return repr(self.text) if len(self.text) <= 40 else repr(self.text[:37] + "...")


#: Word operators and their canonical symbols (wirefilter accepts both spellings).
_WORD_OPS = {
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "in": "in",
    "matches": "matches",
}
_KEYWORDS = {"and": TokenKind.AND, "or": TokenKind.OR, "not": TokenKind.NOT, "any": TokenKind.ANY}
_SYMBOLS: tuple[tuple[str, TokenKind, str | None], ...] = (
    ("==", TokenKind.OP, "=="),
    ("!=", TokenKind.OP, "!="),
    ("<=", TokenKind.OP, "<="),
    (">=", TokenKind.OP, ">="),
    ("&&", TokenKind.AND, None),
    ("||", TokenKind.OR, None),
    ("..", TokenKind.DOTDOT, None),
    ("<", TokenKind.OP, "<"),
    (">", TokenKind.OP, ">"),
    ("~", TokenKind.OP, "matches"),
    ("!", TokenKind.NOT, None),
    ("(", TokenKind.LPAREN, None),
    (")", TokenKind.RPAREN, None),
    ("{", TokenKind.LBRACE, None),
    ("}", TokenKind.RBRACE, None),
    ("[", TokenKind.LBRACKET, None),
    ("]", TokenKind.RBRACKET, None),
    ("*", TokenKind.STAR, None),
    (",", TokenKind.COMMA, None),
    (".", TokenKind.DOT, None),
)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_IPV6 = re.compile(
    r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?(?:/\d{1,3})?"
)
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,3})?")
_INT = re.compile(r"\d+")
_LIST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_SPACE = re.compile(r"\s+")
_RAW_OPEN = re.compile(r'r(#*)"')


def tokenize(source: str) -> list[Token]:
    """Split an expression into tokens, ending with an EOF token.

    Raises :class:`PolicySyntaxError` (and nothing else) on any malformed input.
    """
    if len(source) > MAX_EXPRESSION_CHARS:
        raise PolicySyntaxError(
            f"expression is longer than {MAX_EXPRESSION_CHARS} characters",
            source,
            MAX_EXPRESSION_CHARS,
        )
    tokens: list[Token] = []
    pos = 0
    n = len(source)
    while True:
        m = _SPACE.match(source, pos)
        if m:
            pos = m.end()
        if pos >= n:
            tokens.append(Token(TokenKind.EOF, "", n, n))
            return tokens
        token = _next_token(source, pos)
        tokens.append(token)
        pos = token.end


def _next_token(source: str, pos: int) -> Token:
    c = source[pos]
    if c == '"':
        return _string(source, pos)
    if c == "r" and (raw := _RAW_OPEN.match(source, pos)):
        return _raw_string(source, pos, len(raw.group(1)))
    if c == "$":
        m = _LIST.match(source, pos + 1)
        if m is None:
            raise PolicySyntaxError("empty list reference", source, pos + 1, expected="a list name")
        return Token(TokenKind.LIST, source[pos : m.end()], pos, m.end(), m.group())
    if c.isascii() and (c.isalnum() or c == ":"):
        m = _IPV6.match(source, pos)
        if m and m.group().count(":") >= 2:
            return _ip(source, pos, m.end())
    if c.isascii() and c.isdigit():
        m = _IPV4.match(source, pos)
        if m:
            return _ip(source, pos, m.end())
        m = _INT.match(source, pos)
        assert m is not None
        return _int(source, pos, m.end())
    if c.isascii() and (c.isalpha() or c == "_"):
        m = _IDENT.match(source, pos)
        assert m is not None
        word = m.group()
        if word in _KEYWORDS:
            return Token(_KEYWORDS[word], word, pos, m.end())
        if word in _WORD_OPS:
            return Token(TokenKind.OP, word, pos, m.end(), _WORD_OPS[word])
        return Token(TokenKind.IDENT, word, pos, m.end(), word)
    for text, kind, value in _SYMBOLS:
        if source.startswith(text, pos):
            return Token(kind, text, pos, pos + len(text), value)
    if c == "=":
        raise PolicySyntaxError("'=' is not an operator", source, pos, expected="'=='")
    if c == "&" or c == "|":
        raise PolicySyntaxError(f"single {c!r}", source, pos, expected=f"'{c}{c}'")
    raise PolicySyntaxError(
        f"unexpected character {c!r}",
        source,
        pos,
        expected="a field, a value, an operator or a parenthesis",
    )


def _string(source: str, pos: int) -> Token:
    out: list[str] = []
    i = pos + 1
    n = len(source)
    while i < n:
        c = source[i]
        if c == '"':
            return Token(TokenKind.STRING, source[pos : i + 1], pos, i + 1, "".join(out))
        if c == "\\" and i + 1 < n:
            nxt = source[i + 1]
            # \" and \\ are escapes; any other backslash is kept, so regexes written
            # either as "\\." or as "\." mean the same thing.
            out.append(nxt if nxt in '"\\' else c + nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    raise PolicySyntaxError("unterminated string", source, pos, expected="a closing '\"'")


def _raw_string(source: str, pos: int, hashes: int) -> Token:
    body_start = pos + 2 + hashes
    closing = '"' + "#" * hashes
    end = source.find(closing, body_start)
    if end < 0:
        raise PolicySyntaxError("unterminated raw string", source, pos, expected=repr(closing))
    stop = end + len(closing)
    return Token(TokenKind.STRING, source[pos:stop], pos, stop, source[body_start:end])


def _ip(source: str, start: int, end: int) -> Token:
    text = source[start:end]
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise PolicySyntaxError(
            f"invalid IP address or CIDR {text!r}", source, start, expected="an IP address"
        ) from None
    return Token(TokenKind.IP, text, start, end, network)


def _int(source: str, start: int, end: int) -> Token:
    text = source[start:end]
    if len(text) > MAX_INT_DIGITS:
        raise PolicySyntaxError(
            f"integer longer than {MAX_INT_DIGITS} digits", source, start, expected="an integer"
        )
    return Token(TokenKind.INT, text, start, end, int(text))
