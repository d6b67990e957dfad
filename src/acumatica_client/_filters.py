"""A typed OData ``$filter`` builder whose literals cannot change the query.

    >>> (Field("VendorRef").eq("EXB-R1") & Field("Type").ne("Debit Adj.")).to_odata()
    "(VendorRef eq 'EXB-R1' and Type ne 'Debit Adj.')"

String literals are single-quoted with embedded quotes doubled (the OData rule), so an ID
such as ``x' or 1 eq 1 or 'a`` stays one literal. Field names are checked against an
identifier pattern (``MainContact/Email`` paths allowed). Date-times must carry a time
zone and are written as ``datetimeoffset'…'`` literals, URL-encoded inside the quotes as
Acumatica documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import quote

import attrs

__all__ = ["Field", "Filter", "literal"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)?")

Value = str | int | Decimal | bool | datetime | date | None


def literal(value: Value) -> str:
    """The OData literal for ``value``."""
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
        if value.tzinfo is None:
            raise ValueError("filter date-times need a time zone (e.g. datetime.now(UTC))")
        text = value.isoformat(timespec="milliseconds")
        return f"datetimeoffset'{quote(text, safe='')}'"
    if isinstance(value, date):  # a calendar date: midnight UTC
        return literal(datetime(value.year, value.month, value.day, tzinfo=UTC))
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"cannot use {type(value).__name__} in a filter")


@attrs.frozen
class Filter:
    """A filter expression; combine with ``&``, ``|`` and ``~``."""

    text: str
    atomic: bool = True  # needs no parentheses when combined

    def to_odata(self) -> str:
        """The ``$filter`` text."""
        return self.text

    def __str__(self) -> str:
        return self.text

    def _wrapped(self) -> str:
        return self.text if self.atomic else f"({self.text})"

    def __and__(self, other: Filter) -> Filter:
        return Filter(f"{self._wrapped()} and {other._wrapped()}", atomic=False)

    def __or__(self, other: Filter) -> Filter:
        return Filter(f"{self._wrapped()} or {other._wrapped()}", atomic=False)

    def __invert__(self) -> Filter:
        return Filter(f"not ({self.text})", atomic=True)

    @staticmethod
    def any_of(filters: Iterable[Filter]) -> Filter:
        """``f1 or f2 or …`` (parenthesised as one term)."""
        items = list(filters)
        if not items:
            raise ValueError("any_of needs at least one filter")
        if len(items) == 1:
            return items[0]
        return Filter("(" + " or ".join(f._wrapped() for f in items) + ")", atomic=True)

    @staticmethod
    def all_of(filters: Iterable[Filter]) -> Filter:
        """``f1 and f2 and …`` (parenthesised as one term)."""
        items = list(filters)
        if not items:
            raise ValueError("all_of needs at least one filter")
        if len(items) == 1:
            return items[0]
        return Filter("(" + " and ".join(f._wrapped() for f in items) + ")", atomic=True)


@attrs.frozen
class Field:
    """A field to filter on: ``Field("VendorRef")`` or ``Field("MainContact/Email")``."""

    name: str = attrs.field()

    @name.validator
    def _check(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not _NAME.fullmatch(str(value)):
            raise ValueError(f"not a field name: {value!r}")

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
        """``startswith(Name, 'prefix')``."""
        return Filter(f"startswith({self.name},{literal(prefix)})")

    def endswith(self, suffix: str) -> Filter:
        """``endswith(Name, 'suffix')``."""
        return Filter(f"endswith({self.name},{literal(suffix)})")

    def contains(self, text: str) -> Filter:
        """``substringof('text', Name)`` (Acumatica's spelling of *contains*)."""
        return Filter(f"substringof({literal(text)},{self.name})")

    def in_(self, values: Iterable[Value]) -> Filter:
        """``(Name eq a or Name eq b …)``; at least one value."""
        return Filter.any_of(self.eq(v) for v in values)
