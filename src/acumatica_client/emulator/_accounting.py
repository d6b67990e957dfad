"""The tenant's accounting setup: fiscal calendar, currency list, tax categories, items.

What documents reference and the real ERP checks when they are saved: the financial
period of a document (closed per module on GL201000/GL201100), its currency (CM202000),
a line's tax category (TX205500) and an expense claim line's expense item (a non-stock
item of type Expense, IN202000). Period IDs are written as the contract writes a
``PostPeriod``: ``MMYYYY`` (``"032026"``); ``MM-YYYY`` is accepted on input.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

__all__ = [
    "CLOSING_FLAGS",
    "MODULES",
    "default_currencies",
    "default_tax_categories",
    "fiscal_year_row",
    "normalize_period",
    "period_of",
    "period_problem",
    "set_period",
    "shown",
]

#: Per-module closing flags of a ``FinancialPeriodDetail`` row (GL is its ``Status``).
CLOSING_FLAGS: Final[Mapping[str, str]] = {
    "AP": "ClosedInAP",
    "AR": "ClosedInAR",
    "CA": "ClosedInCA",
    "FA": "ClosedInFA",
    "IN": "ClosedInIN",
}
MODULES: Final = frozenset({"GL", *CLOSING_FLAGS})

_PERIOD: Final = re.compile(r"(0[1-9]|1[0-2])-?(\d{4})")

#: The base currency is always in the list; these follow it in a fresh tenant.
_CURRENCIES: Final = (
    ("USD", "US Dollar", "$", 2),
    ("EUR", "Euro", "€", 2),
    ("GBP", "Pound Sterling", "£", 2),
    ("CAD", "Canadian Dollar", "$", 2),
    ("AUD", "Australian Dollar", "$", 2),
    ("JPY", "Japanese Yen", "¥", 0),
    ("CHF", "Swiss Franc", "CHF", 2),
    ("MXN", "Mexican Peso", "$", 2),
)


def period_of(day: date) -> str:
    """The ``MMYYYY`` period of a date in a calendar of calendar-month periods."""
    return f"{day.month:02d}{day.year:04d}"


def normalize_period(text: Any) -> str | None:
    """``"03-2026"`` or ``"032026"`` -> ``"032026"``; anything else -> None."""
    if not isinstance(text, str):
        return None
    match = _PERIOD.fullmatch(text.strip())
    return f"{match.group(1)}{match.group(2)}" if match else None


def shown(period: str) -> str:
    """A period as the UI and messages show it: ``MM-YYYY``."""
    return f"{period[:2]}-{period[2:]}"


def fiscal_year_row(
    year: int, *, closed: bool = False, at: datetime | None = None
) -> dict[str, Any]:
    """A ``FinancialPeriod`` seed row: twelve calendar-month periods of ``year``.

    ``closed=True`` closes every period in every module and in GL (a year-end close).
    """
    stamp = at or datetime(year - 1, 12, 1, tzinfo=UTC)
    details = []
    for month in range(1, 13):
        last = calendar.monthrange(year, month)[1]
        row: dict[str, Any] = {
            "FinancialPeriodID": f"{month:02d}{year:04d}",
            "PeriodNbr": f"{month:02d}",
            "Description": calendar.month_name[month],
            "StartDate": datetime(year, month, 1, tzinfo=UTC),
            "EndDate": datetime(year, month, last, tzinfo=UTC),
            "LengthInDays": last,
            "Status": "Closed" if closed else "Open",
            "AdjustmentPeriod": False,
        }
        row.update(dict.fromkeys(CLOSING_FLAGS.values(), closed))
        details.append(row)
    return {
        "FinancialYear": f"{year:04d}",
        "StartDate": datetime(year, 1, 1, tzinfo=UTC),
        "NbrOfPeriods": 12,
        "UserDefinedPeriods": False,
        "CreatedDateTime": stamp,
        "LastModifiedDateTime": stamp,
        "Details": details,
    }


def default_currencies(base: str) -> list[dict[str, Any]]:
    """The currency list of a fresh tenant: the base currency and a few others."""
    rows = [
        {"CurrencyID": code, "Description": name, "CurrencySymbol": symbol,
         "DecimalPrecision": precision, "Active": True, "UseForAccounting": True}
        for code, name, symbol, precision in _CURRENCIES
    ]  # fmt: skip
    if base not in {r["CurrencyID"] for r in rows}:
        rows.insert(0, {"CurrencyID": base, "Description": base, "DecimalPrecision": 2,
                        "Active": True, "UseForAccounting": True})  # fmt: skip
    return rows


def default_tax_categories() -> list[dict[str, Any]]:
    """The tax categories of a fresh tenant (Acumatica's sample data names)."""
    return [
        {"TaxCategoryID": "TAXABLE", "Description": "Taxable goods and services",
         "Active": True, "ExcludeListedTaxes": False},
        {"TaxCategoryID": "EXEMPT", "Description": "Tax exempt",
         "Active": True, "ExcludeListedTaxes": False},
    ]  # fmt: skip


def _find_period(years: list[dict[str, Any]], period: str) -> dict[str, Any] | None:
    for year in years:
        for row in year.get("Details") or ():
            if normalize_period(row.get("FinancialPeriodID")) == period:
                return row  # type: ignore[no-any-return]
    return None


def period_problem(years: list[dict[str, Any]], period: str, module: str) -> str | None:
    """Why a document of ``module`` cannot be saved in ``period``, or None.

    ``years`` are the stored ``FinancialPeriod`` records. With no calendar at all nothing
    is checked (a tenant without one is not emulated). GL documents need the period's
    ``Status`` Open; a subledger's also need its ``ClosedIn<module>`` flag off.
    """
    if not years:
        return None
    row = _find_period(years, period)
    if row is None:
        return f"The {shown(period)} financial period is not defined in the system."
    status = str(row.get("Status") or "Open")
    if status == "Inactive":
        return f"The {shown(period)} financial period is inactive."
    if status == "Locked":
        return f"The {shown(period)} financial period is locked."
    if status == "Closed":
        return f"The {shown(period)} financial period is closed in GL."
    flag = CLOSING_FLAGS.get(module)
    if flag is not None and row.get(flag):
        return f"The {shown(period)} financial period is closed in {module}."
    return None


def set_period(
    years: list[dict[str, Any]], period: str, *, modules: frozenset[str], closed: bool
) -> dict[str, Any]:
    """Close (or reopen) ``period`` in ``modules``; closing GL closes every module.

    Returns the year record changed; ``KeyError`` when the period is not defined.
    """
    for year in years:
        for row in year.get("Details") or ():
            if normalize_period(row.get("FinancialPeriodID")) != period:
                continue
            if closed:
                targets = set(CLOSING_FLAGS) if "GL" in modules else modules
                for module in targets:
                    row[CLOSING_FLAGS[module]] = True
                if "GL" in modules:
                    row["Status"] = "Closed"
            else:
                for module in modules - {"GL"}:
                    row[CLOSING_FLAGS[module]] = False
                if "GL" in modules:
                    row["Status"] = "Open"
            return year
    raise KeyError(f"the financial period {shown(period)} is not defined")
