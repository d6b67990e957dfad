"""A typed OData ``$filter`` builder whose literals cannot change the query.

    >>> (Field("VendorRef").eq("EXB-R1") & Field("Type").ne("Debit Adj.")).to_odata()
    "VendorRef eq 'EXB-R1' and Type ne 'Debit Adj.'"

String literals are single-quoted with embedded quotes doubled (the OData rule), so an ID
such as ``x' or 1 eq 1 or 'a`` stays one literal. Field names are checked against an
identifier pattern (one ``MainContact/Email`` slash allowed) and may not be OData keywords.
Date-times must carry a time zone and are written as ``datetimeoffset'…'`` literals; the
query string's own URL encoding produces what Acumatica documents on the wire
(``datetimeoffset'2024-07-15T10%3A31%3A28.402%2B03%3A00'``), so the literal itself is not
encoded again (that would arrive double-encoded). Combining with ``&``, ``|``
and ``~`` adds exactly the parentheses the precedence of ``not`` > ``and`` > ``or`` needs.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

import attrs

__all__ = ["Field", "Filter", "expand_param", "literal", "select_param"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)?")
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*")
_RESERVED = frozenset(
    {"and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "true", "false", "null"}
    | {"startswith", "endswith", "substringof", "datetimeoffset"}
)

Value = str | int | Decimal | bool | datetime | date | None


def literal(value: Value) -> str:
    """The OData literal for ``value``.

    ``str`` → ``'…'`` with ``'`` doubled; ``bool`` → ``true``/``false``; ``int`` and
    finite ``Decimal`` → plain digits; tz-aware ``datetime`` → ``datetimeoffset'…'``
    (milliseconds); ``date`` → that day's midnight UTC; ``None`` → ``null``.
    Raises ``ValueError`` for a naive datetime or a non-finite Decimal and ``TypeError``
    for anything else (floats included: use Decimal).
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot filter on {value}")
        return format(value, "f")
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("filter date-times need a time zone (e.g. datetime.now(UTC))")
        text = value.isoformat(timespec="milliseconds")
        return f"datetimeoffset'{text}'"  # the URL encoding of the query string covers it
    if isinstance(value, date):  # a calendar date: midnight UTC
        return literal(datetime(value.year, value.month, value.day, tzinfo=UTC))
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"cannot use {type(value).__name__} in a filter")


class _Prec(enum.IntEnum):
    """Binding strength of a filter's top-level operator (higher binds tighter)."""

    OR = 1
    AND = 2
    ATOM = 3  # a comparison, function call, ``not (…)`` or parenthesised group


@attrs.frozen
class Filter:
    """A ``$filter`` expression; combine with ``&`` (and), ``|`` (or) and ``~`` (not).

    Build filters with :class:`Field`; the constructor is for already-valid OData text.
    """

    text: str
    _prec: _Prec = attrs.field(default=_Prec.ATOM, alias="_prec", repr=False)

    def to_odata(self) -> str:
        """The ``$filter`` text."""
        return self.text

    def __str__(self) -> str:
        return self.text

    def _operand(self, needed: _Prec) -> str:
        return self.text if self._prec >= needed else f"({self.text})"

    def __and__(self, other: Filter) -> Filter:
        if not isinstance(other, Filter):
            return NotImplemented
        return Filter(
            f"{self._operand(_Prec.AND)} and {other._operand(_Prec.AND)}", _prec=_Prec.AND
        )

    def __or__(self, other: Filter) -> Filter:
        if not isinstance(other, Filter):
            return NotImplemented
        return Filter(f"{self._operand(_Prec.OR)} or {other._operand(_Prec.OR)}", _prec=_Prec.OR)

    def __invert__(self) -> Filter:
        return Filter(f"not ({self.text})")

    @staticmethod
    def any_of(filters: Iterable[Filter]) -> Filter:
        """``(f1 or f2 or …)`` as one parenthesised term; a single filter as itself."""
        items = list(filters)
        if not items:
            raise ValueError("any_of needs at least one filter")
        if len(items) == 1:
            return items[0]
        return Filter("(" + " or ".join(f._operand(_Prec.OR) for f in items) + ")")

    @staticmethod
    def all_of(filters: Iterable[Filter]) -> Filter:
        """``(f1 and f2 and …)`` as one parenthesised term; a single filter as itself."""
        items = list(filters)
        if not items:
            raise ValueError("all_of needs at least one filter")
        if len(items) == 1:
            return items[0]
        return Filter("(" + " and ".join(f._operand(_Prec.AND) for f in items) + ")")


def _check_name(value: object, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"not a field name: {value!r}")
    if any(part.lower() in _RESERVED for part in value.split("/")):
        raise ValueError(f"field name {value!r} is an OData keyword")
    return value


@attrs.frozen
class Field:
    """A field to filter on: ``Field("VendorRef")`` or ``Field("MainContact/Email")``."""

    name: str = attrs.field()

    @name.validator
    def _check(self, attribute: attrs.Attribute[str], value: str) -> None:
        _check_name(value, _NAME)

    def _op(self, op: str, value: Value) -> Filter:
        return Filter(f"{self.name} {op} {literal(value)}")

    def eq(self, value: Value) -> Filter:
        """``Name eq value``."""
        return self._op("eq", value)

    def ne(self, value: Value) -> Filter:
        """``Name ne value``."""
        return self._op("ne", value)

    def gt(self, value: Value) -> Filter:
        """``Name gt value``."""
        return self._op("gt", value)

    def ge(self, value: Value) -> Filter:
        """``Name ge value``."""
        return self._op("ge", value)

    def lt(self, value: Value) -> Filter:
        """``Name lt value``."""
        return self._op("lt", value)

    def le(self, value: Value) -> Filter:
        """``Name le value``."""
        return self._op("le", value)

    def startswith(self, prefix: str) -> Filter:
        """``startswith(Name,'prefix')``."""
        return Filter(f"startswith({self.name},{_text(prefix)})")

    def endswith(self, suffix: str) -> Filter:
        """``endswith(Name,'suffix')``."""
        return Filter(f"endswith({self.name},{_text(suffix)})")

    def contains(self, text: str) -> Filter:
        """``substringof('text',Name)`` (Acumatica's documented spelling of *contains*)."""
        return Filter(f"substringof({_text(text)},{self.name})")

    def in_(self, values: Iterable[Value]) -> Filter:
        """``(Name eq a or Name eq b …)``; one value gives ``Name eq a``; none is an error."""
        items = list(values)
        if not items:
            raise ValueError(f"{self.name}.in_() needs at least one value")
        return Filter.any_of(self.eq(v) for v in items)


def _text(value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return literal(value)


def _names(names: Iterable[str], what: str) -> str:
    if isinstance(names, str):
        names = [names]
    seen: dict[str, None] = {}
    for name in names:
        seen[_check_name(name, _PATH)] = None
    if not seen:
        raise ValueError(f"{what} needs at least one name")
    return ",".join(seen)


def select_param(fields: Iterable[str]) -> str:
    """The ``$select`` value: checked names (``Details/Amount`` paths allowed), comma-joined."""
    return _names(fields, "$select")


def expand_param(names: Iterable[str]) -> str:
    """The ``$expand`` value: checked detail/linked names (``Details``, ``A/B``), comma-joined."""
    return _names(names, "$expand")
