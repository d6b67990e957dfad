"""The OData ``$filter`` subset Acumatica documents, parsed strictly.

Grammar: ``or`` / ``and`` / ``not``, parentheses, comparisons ``eq ne gt ge lt le``,
functions ``startswith(F,'x')``, ``endswith(F,'x')``, ``substringof('x',F)``; literals:
``'…'`` strings (``''`` is an escaped quote), numbers, ``true``/``false``/``null``,
``datetimeoffset'…'`` (the query string is URL-decoded once; a literal that arrives
still percent-encoded is a syntax error). Field paths may
use one slash (``MainContact/Email``). Anything else is a syntax error (400).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["FilterSyntaxError", "compile_filter"]

Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]


class FilterSyntaxError(ValueError):
    """The ``$filter`` text is not valid."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<dto>datetimeoffset'[^']*')
      | (?P<str>'(?:[^']|'')*')
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)?)
    )""",
    re.VERBOSE,
)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCS = {"startswith", "endswith", "substringof"}


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise FilterSyntaxError(f"unexpected text at {pos}: {text[pos : pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup
        raw = match.group(kind or "")
        if kind == "dto":
            inner = raw[len("datetimeoffset'") : -1]  # already URL-decoded once, as a server does
            try:
                value = datetime.fromisoformat(inner.replace("Z", "+00:00"))
            except ValueError as exc:
                raise FilterSyntaxError(f"bad datetimeoffset literal {inner!r}") from exc
            out.append(("lit", value if value.tzinfo else value.replace(tzinfo=UTC)))
        elif kind == "str":
            out.append(("lit", raw[1:-1].replace("''", "'")))
        elif kind == "num":
            try:
                out.append(("lit", Decimal(raw)))
            except InvalidOperation as exc:  # pragma: no cover - regex guarantees digits
                raise FilterSyntaxError(f"bad number {raw!r}") from exc
        elif kind == "punct":
            out.append((raw, raw))
        else:
            low = raw.lower()
            if low in ("true", "false"):
                out.append(("lit", low == "true"))
            elif low == "null":
                out.append(("lit", None))
            elif low in _COMPARE | _FUNCS | {"and", "or", "not"}:
                out.append((low, low))
            else:
                out.append(("field", raw))
    return out


def _get(record: Record, path: str) -> Any:
    value: Any = record
    for part in path.split("/"):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _norm(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def _compare(op: str, left: Any, right: Any) -> bool:
    left, right = _norm(left), _norm(right)
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if op == "gt":
            return bool(left > right)
        if op == "ge":
            return bool(left >= right)
        if op == "lt":
            return bool(left < right)
        return bool(left <= right)
    except TypeError as exc:
        raise FilterSyntaxError(f"cannot compare {left!r} {op} {right!r}") from exc


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]], fields: Callable[[str], bool]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.known = fields

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self, kind: str) -> Any:
        if self.peek() != kind:
            found = self.tokens[self.pos][1] if self.pos < len(self.tokens) else "end"
            raise FilterSyntaxError(f"expected {kind}, found {found!r}")
        value = self.tokens[self.pos][1]
        self.pos += 1
        return value

    def field(self) -> str:
        name = str(self.take("field"))
        if not self.known(name):
            raise FilterSyntaxError(f"unknown field {name!r} in $filter")
        return name

    def parse(self) -> Predicate:
        predicate = self.or_()
        if self.peek() is not None:
            raise FilterSyntaxError(f"unexpected {self.tokens[self.pos][1]!r}")
        return predicate

    def or_(self) -> Predicate:
        left = self.and_()
        while self.peek() == "or":
            self.take("or")
            right = self.and_()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def and_(self) -> Predicate:
        left = self.unary()
        while self.peek() == "and":
            self.take("and")
            right = self.unary()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def unary(self) -> Predicate:
        if self.peek() == "not":
            self.take("not")
            inner = self.unary()
            return lambda r: not inner(r)
        if self.peek() == "(":
            self.take("(")
            inner = self.or_()
            self.take(")")
            return inner
        if self.peek() in _FUNCS:
            return self.function()
        name = self.field()
        op = self.peek()
        if op not in _COMPARE:
            raise FilterSyntaxError(f"expected a comparison after {name!r}")
        self.take(op)
        value = self.take("lit")
        return lambda r: _compare(op, _get(r, name), value)

    def function(self) -> Predicate:
        func = self.take(str(self.peek()))
        self.take("(")
        if func == "substringof":
            text = self.take("lit")
            self.take(",")
            name = self.field()
        else:
            name = self.field()
            self.take(",")
            text = self.take("lit")
        self.take(")")
        if not isinstance(text, str):
            raise FilterSyntaxError(f"{func} needs a string literal")

        def check(record: Record) -> bool:
            value = _get(record, name)
            if not isinstance(value, str):
                return False
            if func == "startswith":
                return value.startswith(text)
            if func == "endswith":
                return value.endswith(text)
            return text in value

        return check


def compile_filter(text: str, known_field: Callable[[str], bool]) -> Predicate:
    """Compile ``$filter`` text into a predicate over stored records."""
    if not text.strip():
        raise FilterSyntaxError("empty $filter")
    return _Parser(_tokens(text), known_field).parse()
