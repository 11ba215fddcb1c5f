"""A tokenizer and recursive-descent parser for the SOQL subset the stand-in answers.

Grammar (keywords are case-insensitive)::

    query      := SELECT selection FROM name [WHERE condition] [ORDER BY order (, order)*]
                  [LIMIT int] [OFFSET int]
    selection  := COUNT ( ) | field (, field)*
    condition  := NOT simple | simple (AND simple)* | simple (OR simple)*
    simple     := ( condition ) | field op value | field [NOT] IN ( value (, value)* )
                | field LIKE string
    op         := = | != | <> | < | <= | > | >=
    value      := 'string' | number | date | datetime | NULL | TRUE | FALSE
                  (datetime: YYYY-MM-DDThh:mm:ss[.f{1,6}](Z | ±hh:mm))
                | TODAY | YESTERDAY | TOMORROW | LAST_N_DAYS:n | NEXT_N_DAYS:n
    order      := field [ASC | DESC] [NULLS FIRST | NULLS LAST]

As in Salesforce, AND and OR cannot be mixed at one level without parentheses, and NOT only
starts a condition (``a AND (NOT b)``, never ``a AND NOT b``). Errors carry the offset of the
offending token so the caller can answer MALFORMED_QUERY with Salesforce's row/column report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

# -- tokens -----------------------------------------------------------------------------------

TokenKind = Literal["ident", "string", "number", "date", "datetime", "op", "lparen", "rparen", "comma", "colon",
                    "eof"]

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2}))(?![\w:.])
  | (?P<date>\d{4}-\d{2}-\d{2})(?![\w:])
  | (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))(?![\w.])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<string>')
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<colon>:)
""", re.VERBOSE)

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    pos: int
    value: Any = None
    like: str | None = None
    """For string tokens: the pattern as a SQL LIKE pattern with ``\\`` as the escape character."""

    def is_kw(self, *words: str) -> bool:
        return self.kind == "ident" and self.text.upper() in words

    def shown(self) -> str:
        return "<EOF>" if self.kind == "eof" else self.text


class SoqlSyntaxError(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


def _read_string(soql: str, start: int) -> tuple[Token, int]:
    """The string literal opening at ``start``: its value, its LIKE pattern and where it ends."""
    value: list[str] = []
    like: list[str] = []
    i = start + 1
    while i < len(soql):
        ch = soql[i]
        if ch == "'":
            return Token("string", soql[start:i + 1], start, "".join(value), "".join(like)), i + 1
        if ch == "\\":
            if i + 1 >= len(soql):
                break
            esc = soql[i + 1]
            if esc in ("_", "%"):
                value.append(esc)
                like.append("\\" + esc)  # an escaped wildcard matches itself
            elif esc in _ESCAPES:
                value.append(_ESCAPES[esc])
                like.append("\\\\" if esc == "\\" else _ESCAPES[esc])
            else:
                raise SoqlSyntaxError(f"Invalid string literal '{soql[start:i + 2]}'. Illegal character sequence "
                                      f"'\\{esc}' in string literal.", i)
            i += 2
            continue
        value.append(ch)
        like.append(ch)
        i += 1
    raise SoqlSyntaxError("unexpected token: <EOF>: unterminated string literal", start)


def tokenize(soql: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(soql):
        match = _TOKEN.match(soql, pos)
        if match is None:
            raise SoqlSyntaxError(f"unexpected token: {soql[pos]}", pos)
        kind = match.lastgroup
        text = match.group()
        if kind == "ws":
            pos = match.end()
            continue
        if kind == "string":
            token, pos = _read_string(soql, pos)
            tokens.append(token)
            continue
        value: Any = None
        if kind == "number":
            value = Decimal(text)
        elif kind == "date":
            try:
                value = date.fromisoformat(text)
            except ValueError:
                raise SoqlSyntaxError(f"line 1:{pos} no viable alternative at character '{text}'", pos) from None
        elif kind == "datetime":
            try:
                value = parse_datetime_literal(text)
            except ValueError:
                raise SoqlSyntaxError(f"line 1:{pos} no viable alternative at character '{text}'", pos) from None
        tokens.append(Token(kind, text, pos, value))  # type: ignore[arg-type]
        pos = match.end()
    tokens.append(Token("eof", "", len(soql)))
    return tokens


def parse_datetime_literal(text: str) -> datetime:
    """A SOQL dateTime literal as an aware UTC datetime, microseconds kept.

    Salesforce documents ``YYYY-MM-DDThh:mm:ss`` followed by ``Z`` or an offset ``±hh:mm``, and
    accepts fractional seconds of one to six digits (clients such as singer-io's tap-salesforce
    send their bookmarks as ``...59.000000Z``). An offset without a colon is accepted as well.
    A calendar-impossible value (month 13, hour 24) raises ValueError.
    """
    parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return parsed.astimezone(UTC)


# -- syntax tree ------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldRef:
    name: str
    pos: int


ValueKind = Literal["string", "number", "date", "datetime", "null", "boolean", "date_literal"]


@dataclass(frozen=True)
class Value:
    kind: ValueKind
    value: Any
    pos: int
    text: str
    like: str | None = None


@dataclass(frozen=True)
class Comparison:
    field: FieldRef
    op: str  # = != < <= > >=
    value: Value


@dataclass(frozen=True)
class InList:
    field: FieldRef
    values: tuple[Value, ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    field: FieldRef
    pattern: Value


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class BoolOp:
    op: Literal["AND", "OR"]
    operands: tuple[Condition, ...]


Condition = Comparison | InList | Like | Not | BoolOp


@dataclass(frozen=True)
class OrderItem:
    field: FieldRef
    descending: bool = False
    nulls_last: bool = False


@dataclass(frozen=True)
class Query:
    sobject: str
    sobject_pos: int
    fields: tuple[FieldRef, ...]
    """Empty for ``SELECT COUNT()``."""
    count: bool = False
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None


DATE_LITERALS = frozenset({"TODAY", "YESTERDAY", "TOMORROW"})
DATE_N_LITERALS = frozenset({"LAST_N_DAYS", "NEXT_N_DAYS"})
_CLAUSE_WORDS = ("WHERE", "ORDER", "LIMIT", "OFFSET", "GROUP", "HAVING", "WITH", "FOR", "USING")


class _Parser:
    def __init__(self, soql: str) -> None:
        self.tokens = tokenize(soql)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def unexpected(self, tok: Token | None = None) -> SoqlSyntaxError:
        tok = tok or self.tok
        return SoqlSyntaxError(f"unexpected token: {tok.shown()}", tok.pos)

    def expect_kw(self, word: str) -> Token:
        if not self.tok.is_kw(word):
            raise self.unexpected()
        return self.advance()

    def expect(self, kind: TokenKind) -> Token:
        if self.tok.kind != kind:
            raise self.unexpected()
        return self.advance()

    # -- clauses ----------------------------------------------------------------------------

    def query(self) -> Query:
        self.expect_kw("SELECT")
        fields: list[FieldRef] = []
        count = False
        if self.tok.is_kw("COUNT") and self.tokens[self.i + 1].kind == "lparen":
            self.advance()
            self.advance()
            if self.tok.kind != "rparen":
                raise SoqlSyntaxError("the stand-in supports COUNT() only, not COUNT(field)", self.tok.pos)
            self.advance()
            count = True
        else:
            fields.append(self.field())
            while self.tok.kind == "comma":
                self.advance()
                fields.append(self.field())
        self.expect_kw("FROM")
        name_tok = self.expect("ident")
        if "." in name_tok.text:
            raise self.unexpected(name_tok)
        where = None
        order: list[OrderItem] = []
        limit = offset = None
        if self.tok.is_kw("WHERE"):
            self.advance()
            where = self.condition()
        if self.tok.is_kw("ORDER"):
            self.advance()
            self.expect_kw("BY")
            order.append(self.order_item())
            while self.tok.kind == "comma":
                self.advance()
                order.append(self.order_item())
        if self.tok.is_kw("LIMIT"):
            self.advance()
            limit = self.non_negative_int()
        if self.tok.is_kw("OFFSET"):
            self.advance()
            offset = self.non_negative_int()
        if self.tok.kind != "eof":
            raise self.unexpected()
        return Query(name_tok.text, name_tok.pos, tuple(fields), count, where, tuple(order), limit, offset)

    def field(self) -> FieldRef:
        tok = self.tok
        if tok.kind != "ident" or tok.is_kw("FROM", "SELECT", *_CLAUSE_WORDS):
            raise self.unexpected()
        self.advance()
        if self.tok.kind == "lparen":  # a function call: aggregate and date functions are not supported
            raise SoqlSyntaxError(f"the stand-in does not support the function {tok.text}()", tok.pos)
        return FieldRef(tok.text, tok.pos)

    def non_negative_int(self) -> int:
        tok = self.expect("number")
        if tok.value != tok.value.to_integral_value() or tok.value < 0 or tok.text.startswith("+"):
            raise self.unexpected(tok)
        return int(tok.value)

    def order_item(self) -> OrderItem:
        ref = self.field()
        descending = False
        nulls_last = False
        if self.tok.is_kw("ASC", "DESC"):
            descending = self.advance().text.upper() == "DESC"
        if self.tok.is_kw("NULLS"):
            self.advance()
            if not self.tok.is_kw("FIRST", "LAST"):
                raise self.unexpected()
            nulls_last = self.advance().text.upper() == "LAST"
        return OrderItem(ref, descending, nulls_last)

    # -- conditions -------------------------------------------------------------------------

    def condition(self) -> Condition:
        if self.tok.is_kw("NOT"):
            self.advance()
            operand = self.simple()
            if self.tok.is_kw("AND", "OR"):
                raise self.unexpected()
            return Not(operand)
        first = self.simple()
        if not self.tok.is_kw("AND", "OR"):
            return first
        op = self.tok.text.upper()
        operands = [first]
        while self.tok.is_kw("AND", "OR"):
            if self.tok.text.upper() != op:
                raise self.unexpected()  # mixing AND and OR needs parentheses
            self.advance()
            if self.tok.is_kw("NOT"):
                raise self.unexpected()
            operands.append(self.simple())
        return BoolOp(op, tuple(operands))  # type: ignore[arg-type]

    def simple(self) -> Condition:
        if self.tok.kind == "lparen":
            self.advance()
            inner = self.condition()
            self.expect("rparen")
            return inner
        ref = self.field()
        tok = self.tok
        if tok.kind == "op":
            self.advance()
            op = "!=" if tok.text == "<>" else tok.text
            return Comparison(ref, op, self.value())
        if tok.is_kw("LIKE"):
            self.advance()
            pattern = self.value()
            if pattern.kind != "string":
                raise SoqlSyntaxError("invalid operator on field: LIKE needs a string pattern", pattern.pos)
            return Like(ref, pattern)
        negated = False
        if tok.is_kw("NOT"):
            self.advance()
            negated = True
            if not self.tok.is_kw("IN"):
                raise self.unexpected()
        if self.tok.is_kw("IN"):
            self.advance()
            self.expect("lparen")
            values = [self.value()]
            while self.tok.kind == "comma":
                self.advance()
                values.append(self.value())
            self.expect("rparen")
            return InList(ref, tuple(values), negated)
        raise self.unexpected()

    def value(self) -> Value:
        tok = self.tok
        if tok.kind == "string":
            self.advance()
            return Value("string", tok.value, tok.pos, tok.text, tok.like)
        if tok.kind in ("number", "date", "datetime"):
            self.advance()
            return Value(tok.kind, tok.value, tok.pos, tok.text)  # type: ignore[arg-type]
        if tok.kind == "ident":
            word = tok.text.upper()
            if word == "NULL":
                self.advance()
                return Value("null", None, tok.pos, tok.text)
            if word in ("TRUE", "FALSE"):
                self.advance()
                return Value("boolean", word == "TRUE", tok.pos, tok.text)
            if word in DATE_LITERALS:
                self.advance()
                return Value("date_literal", (word, 0), tok.pos, tok.text)
            if word in DATE_N_LITERALS:
                self.advance()
                self.expect("colon")
                n = self.non_negative_int()
                return Value("date_literal", (word, n), tok.pos, f"{tok.text}:{n}")
        raise self.unexpected()


def parse(soql: str) -> Query:
    """Parse one SOQL statement; raises :class:`SoqlSyntaxError` with the offending offset."""
    return _Parser(soql).query()


def error_report(soql: str, pos: int, reason: str) -> str:
    """Salesforce's MALFORMED_QUERY message: the offending line, a caret, ``Row:Column`` and why."""
    before = soql[:pos]
    row = before.count("\n") + 1
    line_start = before.rfind("\n") + 1
    column = pos - line_start + 1
    line_end = soql.find("\n", pos)
    line = soql[line_start:] if line_end < 0 else soql[line_start:line_end]
    return f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{reason}"
