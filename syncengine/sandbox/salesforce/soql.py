"""A parser and evaluator for the subset of SOQL the sandbox understands.

Grammar (keywords case-insensitive)::

    SELECT (COUNT() | path [, path]...) FROM Object
      [WHERE condition] [ORDER BY path [ASC|DESC] [NULLS FIRST|LAST], ...]
      [LIMIT n] [OFFSET n]

    condition := term (OR term)* ; term := factor (AND factor)* ; factor := NOT factor | atom
    atom      := '(' condition ')' | path op value | path [NOT] IN (values) | path [NOT] LIKE 'x'
                 | ISBLANK(path) | REGEX(path, 'pattern')

ISBLANK/REGEX and a field on the right-hand side are not SOQL: they exist so the org file's
validation rules and trigger conditions can reuse this one small expression language.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


class SoqlSyntaxError(ValueError):
    """A malformed query; the server reports it as MALFORMED_QUERY at ``position``."""

    def __init__(self, message: str, position: int = 0) -> None:
        super().__init__(message)
        self.position = position


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?::\d+)?)
    """,
    re.VERBOSE,
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int

    @property
    def upper(self) -> str:
        return self.text.upper()


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if not match:
            raise SoqlSyntaxError(f"unexpected token: '{text[position : position + 10]}'", position)
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    return tokens


# --- AST ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: Any  # str, float, int, bool, None; dates as 'YYYY-MM-DD', datetimes canonical strings
    kind: str  # string | number | boolean | null | date | date_keyword (TODAY…) | datetime
    position: int = field(default=-1, compare=False)  # of its token in the query text


@dataclass(frozen=True)
class FieldRef:
    path: str


Operand = Literal | FieldRef


@dataclass(frozen=True)
class Compare:
    path: str
    op: str
    operand: Operand
    position: int = field(default=-1, compare=False)  # of the field path


@dataclass(frozen=True)
class InList:
    path: str
    values: tuple[Literal, ...]
    negated: bool
    position: int = field(default=-1, compare=False)  # of the field path


@dataclass(frozen=True)
class Like:
    path: str
    pattern: str
    negated: bool
    position: int = field(default=-1, compare=False)  # of the field path


@dataclass(frozen=True)
class IsBlank:
    path: str


@dataclass(frozen=True)
class Regex:
    path: str
    pattern: str


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND | OR
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    part: Condition


Condition = Compare | InList | Like | IsBlank | Regex | BoolOp | Not


@dataclass(frozen=True)
class OrderItem:
    path: str
    descending: bool = False
    nulls_last: bool = False


@dataclass
class Query:
    sobject: str
    fields: list[str] = field(default_factory=list)
    is_count: bool = False
    where: Condition | None = None
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    positions: dict[str, int] = field(default_factory=dict)  # first position of each path
    offset_position: int = -1


def format_datetime(value: dt.datetime) -> str:
    """Salesforce's wire format for datetimes: always UTC, milliseconds, '+0000'."""
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> dt.datetime:
    """Accepts ISO-8601 with 'Z', '+00:00' or '+0000' offsets (and naive = UTC)."""
    text = text.strip().replace("Z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


# --- Parser ------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.positions: dict[str, int] = {}

    def peek(self, offset: int = 0) -> Token | None:
        index = self.index + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def end_position(self) -> int:
        last = self.tokens[-1] if self.tokens else None
        return last.position + len(last.text) if last else 0

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise SoqlSyntaxError("unexpected end of query", self.end_position())
        self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "ident" and token.upper in words

    def expect_keyword(self, word: str) -> None:
        token = self.next()
        if token.kind != "ident" or token.upper != word:
            raise SoqlSyntaxError(
                f"unexpected token: '{token.text}', expected {word}", token.position
            )

    def expect_punct(self, char: str) -> None:
        token = self.next()
        if token.text != char:
            raise SoqlSyntaxError(
                f"unexpected token: '{token.text}', expected '{char}'", token.position
            )

    def path(self) -> str:
        token = self.next()
        if token.kind != "ident" or ":" in token.text:
            raise SoqlSyntaxError(f"unexpected token: '{token.text}'", token.position)
        self.positions.setdefault(token.text, token.position)
        return token.text

    def at_end(self) -> bool:
        return self.peek() is None

    # SELECT ... FROM ...
    def query(self) -> Query:
        self.expect_keyword("SELECT")
        fields: list[str] = []
        is_count = False
        if self.at_keyword("COUNT") and self.peek(1) and self.peek(1).text == "(":  # type: ignore[union-attr]
            self.next()
            self.expect_punct("(")
            self.expect_punct(")")
            is_count = True
        else:
            fields.append(self.path())
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.next()
                fields.append(self.path())
        self.expect_keyword("FROM")
        query = Query(sobject=self.path(), fields=fields, is_count=is_count)
        query.positions = self.positions
        if self.at_keyword("WHERE"):
            self.next()
            query.where = self.condition()
        if self.at_keyword("ORDER"):
            self.next()
            self.expect_keyword("BY")
            query.order_by.append(self.order_item())
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.next()
                query.order_by.append(self.order_item())
        if self.at_keyword("LIMIT"):
            self.next()
            query.limit = self.integer()
        if self.at_keyword("OFFSET"):
            self.next()
            query.offset_position = self.peek().position if self.peek() else -1
            query.offset = self.integer()
        if not self.at_end():
            token = self.next()
            raise SoqlSyntaxError(f"unexpected token: '{token.text}'", token.position)
        return query

    def integer(self) -> int:
        token = self.next()
        if token.kind != "number" or not token.text.isdigit():
            raise SoqlSyntaxError(
                f"unexpected token: '{token.text}', expected a number", token.position
            )
        return int(token.text)

    def order_item(self) -> OrderItem:
        path = self.path()
        descending = False
        if self.at_keyword("ASC", "DESC"):
            descending = self.next().upper == "DESC"
        nulls_last = descending  # Salesforce default: NULLS FIRST ascending, NULLS LAST descending
        if self.at_keyword("NULLS"):
            self.next()
            token = self.next()
            if token.upper not in ("FIRST", "LAST"):
                raise SoqlSyntaxError(f"unexpected token: '{token.text}'", token.position)
            nulls_last = token.upper == "LAST"
        return OrderItem(path, descending, nulls_last)

    # WHERE ...
    def condition(self) -> Condition:
        parts = [self.term()]
        while self.at_keyword("OR"):
            self.next()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else BoolOp("OR", tuple(parts))

    def term(self) -> Condition:
        parts = [self.factor()]
        while self.at_keyword("AND"):
            self.next()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else BoolOp("AND", tuple(parts))

    def factor(self) -> Condition:
        if self.at_keyword("NOT"):
            self.next()
            return Not(self.factor())
        return self.atom()

    def atom(self) -> Condition:
        token = self.peek()
        if token is None:
            raise SoqlSyntaxError("unexpected end of query", self.end_position())
        if token.text == "(":
            self.next()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        nxt = self.peek(1)
        if (
            token.kind == "ident"
            and token.upper in ("ISBLANK", "REGEX")
            and nxt
            and nxt.text == "("
        ):
            self.next()
            self.expect_punct("(")
            path = self.path()
            if token.upper == "ISBLANK":
                self.expect_punct(")")
                return IsBlank(path)
            self.expect_punct(",")
            pattern = self.literal()
            self.expect_punct(")")
            if pattern.kind != "string":
                raise SoqlSyntaxError("REGEX needs a string pattern")
            try:
                re.compile(pattern.value)
            except re.error as exc:
                raise SoqlSyntaxError(f"invalid regular expression: {exc}") from exc
            return Regex(path, pattern.value)
        position = self.peek().position  # type: ignore[union-attr]
        path = self.path()
        negated = False
        if self.at_keyword("NOT"):
            self.next()
            negated = True
            if not self.at_keyword("IN", "LIKE"):
                raise SoqlSyntaxError("expected IN or LIKE after NOT")
        if self.at_keyword("IN"):
            self.next()
            self.expect_punct("(")
            values = [self.literal()]
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.next()
                values.append(self.literal())
            self.expect_punct(")")
            return InList(path, tuple(values), negated, position)
        if self.at_keyword("LIKE"):
            self.next()
            pattern = self.literal()
            if pattern.kind != "string":
                raise SoqlSyntaxError("LIKE needs a string pattern")
            return Like(path, pattern.value, negated, position)
        op_token = self.next()
        if op_token.kind != "op":
            raise SoqlSyntaxError(f"unexpected token: '{op_token.text}'", op_token.position)
        op = "!=" if op_token.text == "<>" else op_token.text
        return Compare(path, op, self.operand(), position)

    def operand(self) -> Operand:
        token = self.peek()
        if (
            token is not None
            and token.kind == "ident"
            and token.upper not in ("NULL", "TRUE", "FALSE", "TODAY", "YESTERDAY", "TOMORROW")
        ):
            return FieldRef(self.path())
        return self.literal()

    def literal(self) -> Literal:
        token = self.next()
        at = token.position
        if token.kind == "string":
            body = token.text[1:-1]
            # Unknown escapes keep their backslash so REGEX patterns like '\\d' survive.
            text = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)
            return Literal(text, "string", at)
        if token.kind == "number":
            number = float(token.text) if "." in token.text else int(token.text)
            return Literal(number, "number", at)
        if token.kind == "datetime":
            try:
                return Literal(format_datetime(parse_datetime(token.text)), "datetime", at)
            except ValueError as exc:
                raise SoqlSyntaxError(f"invalid datetime: {token.text}", at) from exc
        if token.kind == "date":
            try:
                dt.date.fromisoformat(token.text)
            except ValueError as exc:
                raise SoqlSyntaxError(f"invalid date: {token.text}", at) from exc
            return Literal(token.text, "date", at)
        if token.kind == "ident":
            word = token.upper
            if word == "NULL":
                return Literal(None, "null", at)
            if word in ("TRUE", "FALSE"):
                return Literal(word == "TRUE", "boolean", at)
            today = dt.datetime.now(dt.UTC).date()
            relative = {"TODAY": 0, "YESTERDAY": -1, "TOMORROW": 1}
            if word in relative:
                day = (today + dt.timedelta(days=relative[word])).isoformat()
                return Literal(day, "date_keyword", at)
        raise SoqlSyntaxError(f"unexpected token: '{token.text}'", at)


def parse_query(text: str) -> Query:
    return _Parser(text).query()


def parse_condition(text: str) -> Condition:
    parser = _Parser(text)
    condition = parser.condition()
    if not parser.at_end():
        token = parser.next()
        raise SoqlSyntaxError(f"unexpected token: '{token.text}'", token.position)
    return condition


def condition_paths(condition: Condition) -> Iterable[str]:
    """Every field path a condition reads, so callers can validate them up front."""
    if isinstance(condition, BoolOp):
        for part in condition.parts:
            yield from condition_paths(part)
    elif isinstance(condition, Not):
        yield from condition_paths(condition.part)
    else:
        yield condition.path
        if isinstance(condition, Compare) and isinstance(condition.operand, FieldRef):
            yield condition.operand.path


# --- Evaluation --------------------------------------------------------------------------------

Getter = Callable[[str], Any]


class IdValue(str):
    """An id literal in its 18-char form: ids compare case-sensitively (a 15-char id is
    case-sensitive, and the 18-char one's suffix encodes its capitals)."""


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(right, IdValue):
        return left, str(right)
    if isinstance(left, str) and isinstance(right, str):
        # Datetime fields compared with a date literal compare on the date part.
        if len(right) == 10 and len(left) > 10 and left[4] == "-" and left[10] == "T":
            left = left[:10]
        return left.lower(), right.lower()
    if isinstance(left, bool) or isinstance(right, bool):
        return bool(left), bool(right)
    if isinstance(left, str) and isinstance(right, int | float):
        try:
            return float(left), right
        except ValueError:
            return left, str(right)
    return left, right


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "=":
        if left is None or right is None:
            return left is None and right is None
        a, b = _comparable(left, right)
        return a == b
    if op == "!=":
        if left is None or right is None:
            return (left is None) != (right is None)
        a, b = _comparable(left, right)
        return a != b
    if left is None or right is None:
        return False
    a, b = _comparable(left, right)
    try:
        if op == "<":
            return a < b
        if op == ">":
            return a > b
        if op == "<=":
            return a <= b
        return a >= b
    except TypeError:
        return False


_OPERATORS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


def _against_literal(op: str, right: Any) -> Callable[[Any], bool]:
    """``_compare(value, op, right)`` for a literal ``right``, its side prepared once: text
    values, the usual case, skip `_comparable`'s questions; any other value goes through it."""
    if not isinstance(right, str):
        return lambda value: _compare(value, op, right)
    compare = _OPERATORS[op]
    if isinstance(right, IdValue):
        key = str(right)
        return lambda value: (
            compare(value, key) if type(value) is str else _compare(value, op, right)
        )
    lowered, date_only = right.lower(), len(right) == 10

    def test(value: Any) -> bool:
        if type(value) is not str:
            return _compare(value, op, right)
        if date_only and len(value) > 10 and value[4] == "-" and value[10] == "T":
            value = value[:10]  # a datetime field against a date literal: its date part
        return compare(value.lower(), lowered)

    return test


def like_to_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("^" + "".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def evaluate(condition: Condition, get: Getter) -> bool:
    """True when a record (seen through ``get(path)``) satisfies the condition."""
    return compile_condition(condition, lambda path: lambda _record: get(path))(None)


def compile_condition(
    condition: Condition, reader: Callable[[str], Callable[[Any], Any]]
) -> Callable[[Any], bool]:
    """The condition as one function of a record, given each path's reader (``reader(path)``
    returns a function of a record). A query tests every record of its object: walking the
    condition's tree for each one cost a pull over 20,000 contacts a third of a second."""
    if isinstance(condition, BoolOp):
        parts = [compile_condition(part, reader) for part in condition.parts]
        if condition.op == "AND":
            return lambda record: all(part(record) for part in parts)
        return lambda record: any(part(record) for part in parts)
    if isinstance(condition, Not):
        part = compile_condition(condition.part, reader)
        return lambda record: not part(record)
    read = reader(condition.path)
    if isinstance(condition, Compare) and isinstance(condition.operand, FieldRef):
        read_other, op = reader(condition.operand.path), condition.op
        return lambda record: _compare(read(record), op, read_other(record))
    test = _value_test(condition)
    return lambda record: test(read(record))


def _value_test(condition: Condition) -> Callable[[Any], bool]:
    """Whether a field's value satisfies a condition on that field and literals."""
    if isinstance(condition, Compare):
        return _against_literal(condition.op, condition.operand.value)
    if isinstance(condition, InList):
        literals, negated = [literal.value for literal in condition.values], condition.negated
        return lambda value: any(_compare(value, "=", v) for v in literals) != negated
    if isinstance(condition, Like):
        regex, negated = like_to_regex(condition.pattern), condition.negated
        return lambda value: (value is not None and bool(regex.match(str(value)))) != negated
    if isinstance(condition, IsBlank):
        return lambda value: value is None or value == ""
    if isinstance(condition, Regex):
        # Like Salesforce's REGEX(): the whole value must match; blank values never match.
        pattern = re.compile(condition.pattern)
        return lambda value: value not in (None, "") and pattern.fullmatch(str(value)) is not None
    raise TypeError(condition)


def sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    return (2, str(value).lower())
