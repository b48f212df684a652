"""Recursive-descent parser: expression text -> :mod:`ramparts.policy.ast` tree.

Grammar (lowest precedence first)::

    expr       := and_expr (("or" | "||") and_expr)*
    and_expr   := unary (("and" | "&&") unary)*
    unary      := ("not" | "!") unary | "(" expr ")" | "any" "(" comparison ")" | comparison
    comparison := field OP value
    field      := NAME ("[" "*" "]" ("." NAME)?)?
    value      := STRING | INT | IP | "{" (item ","?)* "}" | "$" LISTNAME
    item       := scalar (".." scalar)?
"""

from __future__ import annotations

from ramparts.policy import ast
from ramparts.policy.errors import PolicySyntaxError
from ramparts.policy.lexer import IpValue, Token, TokenKind, tokenize

#: Deepest nesting of parentheses and negations; keeps recursion far below Python's limit.
MAX_NESTING_DEPTH = 64


def parse(source: str) -> ast.Expr:
    """Parse one expression. Raises :class:`PolicySyntaxError` and nothing else."""
    parser = _Parser(source, tokenize(source))
    expr = parser.expression()
    tok = parser.peek()
    if tok.kind is not TokenKind.EOF:
        parser.fail(tok, f"unexpected {tok.describe()}", "'and', 'or' or end of expression")
    return expr


class _Parser:
    def __init__(self, source: str, tokens: list[Token]):
        self.source = source
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    # -- token helpers ------------------------------------------------------------------
    def peek(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        if tok.kind is not TokenKind.EOF:
            self.pos += 1
        return tok

    def expect(self, kind: TokenKind, expected: str | None = None) -> Token:
        tok = self.peek()
        if tok.kind is not kind:
            self.fail(tok, f"unexpected {tok.describe()}", expected or kind.value)
        return self.advance()

    def fail(self, tok: Token, reason: str, expected: str) -> None:
        raise PolicySyntaxError(reason, self.source, tok.start, expected=expected)

    # -- grammar ------------------------------------------------------------------------
    def expression(self) -> ast.Expr:
        first = self.and_expr()
        operands = [first]
        while self.peek().kind is TokenKind.OR:
            self.advance()
            operands.append(self.and_expr())
        if len(operands) == 1:
            return first
        return ast.Or(tuple(operands), first.start, operands[-1].end)

    def and_expr(self) -> ast.Expr:
        first = self.unary()
        operands = [first]
        while self.peek().kind is TokenKind.AND:
            self.advance()
            operands.append(self.unary())
        if len(operands) == 1:
            return first
        return ast.And(tuple(operands), first.start, operands[-1].end)

    def unary(self) -> ast.Expr:
        tok = self.peek()
        if tok.kind is TokenKind.NOT:
            self.advance()
            with_depth = self.enter(tok)
            operand = self.unary()
            self.depth = with_depth
            return ast.Not(operand, tok.start, operand.end)
        if tok.kind is TokenKind.LPAREN:
            self.advance()
            with_depth = self.enter(tok)
            inner = self.expression()
            self.expect(TokenKind.RPAREN, "')' or 'and' / 'or'")
            self.depth = with_depth
            return inner
        if tok.kind is TokenKind.ANY:
            self.advance()
            self.expect(TokenKind.LPAREN, "'(' after 'any'")
            comparison = self.comparison()
            close = self.expect(TokenKind.RPAREN, "')' closing 'any('")
            if not comparison.field.each:
                raise PolicySyntaxError(
                    "any() needs an array field written with [*]",
                    self.source,
                    comparison.field.end,
                    expected="'[*]' after the field name",
                )
            return ast.AnyOf(comparison, tok.start, close.end)
        return self.comparison()

    def enter(self, tok: Token) -> int:
        before = self.depth
        self.depth += 1
        if self.depth > MAX_NESTING_DEPTH:
            raise PolicySyntaxError(
                f"expression nested deeper than {MAX_NESTING_DEPTH} levels",
                self.source,
                tok.start,
                expected="a flatter expression",
            )
        return before

    def comparison(self) -> ast.Comparison:
        field = self.field()
        tok = self.peek()
        if tok.kind is not TokenKind.OP:
            self.fail(
                tok,
                f"unexpected {tok.describe()} after field {field.name!r}",
                "an operator (==, !=, <, <=, >, >=, in, matches)",
            )
        self.advance()
        op = str(tok.value)
        value = self.value(op)
        return ast.Comparison(field, op, value, field.start, value.end)

    def field(self) -> ast.FieldRef:
        tok = self.expect(TokenKind.IDENT, "a field name (for example dns.fqdn)")
        name = tok.text
        end = tok.end
        each = False
        if self.peek().kind is TokenKind.LBRACKET:
            self.advance()
            self.expect(TokenKind.STAR, "'*' (only [*] indexing is supported)")
            end = self.expect(TokenKind.RBRACKET, "']'").end
            each = True
            if self.peek().kind is TokenKind.DOT:
                self.advance()
                sub = self.expect(TokenKind.IDENT, "a sub-field name after '.'")
                name = f"{name}.{sub.text}"
                end = sub.end
        return ast.FieldRef(name, each, tok.start, end)

    def value(self, op: str) -> ast.Value:
        tok = self.peek()
        if op == "in":
            if tok.kind is TokenKind.LBRACE:
                return self.set_literal()
            if tok.kind is TokenKind.LIST:
                self.advance()
                return ast.ListRef(str(tok.value), tok.start, tok.end)
            self.fail(tok, f"unexpected {tok.describe()} after 'in'", "'{' or a $list")
        if op == "matches":
            if tok.kind is not TokenKind.STRING:
                self.fail(tok, f"unexpected {tok.describe()} after 'matches'", "a quoted regex")
            self.advance()
            return ast.StringLit(str(tok.value), tok.start, tok.end)
        return self.scalar("a string, integer or IP address")

    def scalar(self, expected: str) -> ast.Scalar:
        tok = self.peek()
        if tok.kind is TokenKind.STRING:
            self.advance()
            return ast.StringLit(str(tok.value), tok.start, tok.end)
        if tok.kind is TokenKind.INT:
            self.advance()
            assert isinstance(tok.value, int)
            return ast.IntLit(tok.value, tok.start, tok.end)
        if tok.kind is TokenKind.IP:
            self.advance()
            assert isinstance(tok.value, IpValue)
            return ast.IpLit(tok.value, tok.start, tok.end)
        self.fail(tok, f"unexpected {tok.describe()}", expected)
        raise AssertionError("unreachable")  # pragma: no cover

    def set_literal(self) -> ast.SetLit:
        open_tok = self.advance()
        items: list[ast.Scalar | ast.RangeLit] = []
        while self.peek().kind is not TokenKind.RBRACE:
            low = self.scalar("a value or '}'")
            if self.peek().kind is TokenKind.DOTDOT:
                self.advance()
                high = self.scalar("the upper end of the range")
                if isinstance(low, ast.StringLit) or isinstance(high, ast.StringLit):
                    raise PolicySyntaxError(
                        "ranges are for integers and IP addresses",
                        self.source,
                        low.start,
                        expected="an integer or IP address range",
                    )
                items.append(ast.RangeLit(low, high, low.start, high.end))
            else:
                items.append(low)
            if self.peek().kind is TokenKind.COMMA:
                self.advance()
        close = self.advance()
        if not items:
            raise PolicySyntaxError("empty set", self.source, open_tok.start, expected="a value")
        return ast.SetLit(tuple(items), open_tok.start, close.end)
