"""Inputs for seeding the emulator: expenses, and helpers to build policy sections.

Policies take the client's own model classes (:class:`~expensify_client.Category`,
:class:`~expensify_client.TagLevel`, :class:`~expensify_client.Tag`,
:class:`~expensify_client.ReportField`, :class:`~expensify_client.Employee`); the helpers
here only shorten building them. :class:`ExpenseSpec` describes one expense of a seeded
report; its attribute names follow :class:`~expensify_client.Expense` so a model can be
turned into a spec field by field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal

import attrs

from .._models import Attendee, Category, Employee, Tag, TagLevel, TagValue

__all__ = ["ExpenseSpec", "category", "employee", "tag_level"]


def _tag_names(value: Iterable[str | TagValue]) -> tuple[str, ...]:
    """Per-level tag names; :class:`TagValue` items are ordered by their level."""
    items = list(value)
    if all(isinstance(item, TagValue) for item in items):
        values = sorted((item for item in items if isinstance(item, TagValue)), key=_level)
        return tuple(v.name for v in values)
    if not all(isinstance(item, str) for item in items):
        raise TypeError("tags must be level names (str) or TagValue items, not a mix")
    return tuple(str(item) for item in items)


def _level(value: TagValue) -> int:
    return value.level


def _positive_or_zero_int(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{attribute.name} must be an int (cents), not {type(value).__name__}")


def _opt_int(instance: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None:
        _positive_or_zero_int(instance, attribute, value)  # type: ignore[arg-type]


@attrs.frozen(kw_only=True)
class ExpenseSpec:
    """One expense of a seeded report.

    ``amount_cents`` is the original amount in ``currency`` (hundredths of the unit, as
    Expensify stores it; negative for a refund). ``tags`` are the tag names per level
    (level 1 first), or :class:`TagValue` items. GL codes are NOT given here: the export
    reads them from the policy (category ``glCode``, tag ``glCode`` per level), as the
    Integration Server does. When ``currency`` differs from the report currency, give
    ``converted_amount_cents`` or ``currency_conversion_rate``.
    """

    amount_cents: int = attrs.field(validator=_positive_or_zero_int)
    currency: str
    created: date
    merchant: str = ""
    category: str | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tag_names)
    comment: str = ""
    reimbursable: bool = True
    billable: bool = False
    transaction_id: str | None = None
    modified_amount_cents: int | None = attrs.field(default=None, validator=_opt_int)
    converted_amount_cents: int | None = attrs.field(default=None, validator=_opt_int)
    currency_conversion_rate: Decimal | None = None
    modified_merchant: str | None = None
    modified_created: date | None = None
    inserted: datetime | None = None
    has_tax: bool = False
    tax_amount_cents: int | None = attrs.field(default=None, validator=_opt_int)
    tax_name: str | None = None
    tax_rate: Decimal | None = None
    tax_code: str | None = None
    mcc: str | None = None
    bank: str | None = None
    card_id: str | None = None
    card_number: str | None = None
    external_id: str | None = None
    receipt_url: str | None = None
    attendees: tuple[Attendee, ...] = attrs.field(default=(), converter=tuple)

    @property
    def effective_amount_cents(self) -> int:
        """The edited amount when there is one, else the original (in ``currency``)."""
        if self.modified_amount_cents is None:
            return self.amount_cents
        return self.modified_amount_cents


def category(name: str, gl_code: str | None = None, *, enabled: bool = True) -> Category:
    """A policy category with its GL code."""
    return Category(name=name, enabled=enabled, gl_code=gl_code)


def tag_level(
    name: str, tags: Mapping[str, str | None] | Iterable[str], *, required: bool = False
) -> TagLevel:
    """A tag level from ``{tag name: GL code}`` (or bare names, without GL codes)."""
    if isinstance(tags, Mapping):
        items = tuple(Tag(name=n, gl_code=gl) for n, gl in tags.items())
    else:
        items = tuple(Tag(name=n) for n in tags)
    return TagLevel(name=name, tags=items, required=required)


def employee(
    email: str,
    *,
    role: str = "user",
    submits_to: str | None = None,
    approves_to: str | None = None,
    employee_id: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
) -> Employee:
    """A policy member (``submits_to``: first approver; ``approves_to``: forward-to)."""
    return Employee(
        email=email,
        role=role,
        submits_to=submits_to,
        approves_to=approves_to,
        employee_id=employee_id,
        first_name=first_name,
        last_name=last_name,
    )
