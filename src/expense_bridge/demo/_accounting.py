"""The demo's accounting depth: the tenant's calendar, tax categories and expense items, and
a second connection that posts a second policy's reports as expense claims with receipts.

Acumatica (one tenant): a fiscal calendar of calendar-month periods for last year and this
year, with last month **closed for AP** (the main connection's ``closed_period =
"next_open"`` posts bills dated in it into this month, their dates kept; journals follow GL,
which is open); the tax categories the hotel VAT maps to; the tax zone ``FIELDSVC`` of the
claims connection (``rules.tax_zone``: each claim's ``FinancialDetails.TaxZone`` and every
line's, two taxed claim lines carrying their VAT's category); non-stock expense items.

Expensify: a second policy, *Field Services*, whose members are a few of the company's
employees. Its reports go through a second connection (``demo-claims``) with
``reimbursable_target = "expense_claim"``, ``attach_receipts = true`` and ``claim_stage =
"submit"``: one claim per report, each receipt attached once. One report was approved last
month, in the closed period: this connection's rule is ``closed_period = "hold"``, so it
is held with ``EB-PERIOD-CLOSED``; one receipt link is dead, which is a warning, never a re-post.
Receipts go on the claim lines (``receipts_on = "line"``); the dead link answers before the
second sync, which attaches that receipt to its line (a retry) and posts nothing.
Pure data here; :mod:`._run` seeds it and runs the syncs.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final

import attrs

from expensify_client import Category
from expensify_client.emulator import ExpenseSpec, employee

from .._periods import ClosedPeriodRule
from .._rules import ClaimStage, PostingRules, ReceiptTarget, ReimbursableTarget
from ._company import TAX_CATEGORIES, Company

__all__ = [
    "CLAIMS_CONNECTION",
    "CLAIMS_POLICY_ID",
    "CLAIMS_TAX_ZONE",
    "EXPENSE_ITEMS",
    "ClaimReport",
    "accounting_rows",
    "claim_reports",
    "claims_members",
    "claims_rules",
    "closed_month",
    "main_rules",
]

CLAIMS_CONNECTION: Final = "demo-claims"
CLAIMS_POLICY_ID: Final = "F1E1D5E7C1A1B500"
CLAIMS_POLICY_NAME: Final = "Northwind Field Services"
#: The claims connection's tax zone (``rules.tax_zone``), seeded as a ``TaxZone``.
CLAIMS_TAX_ZONE: Final = "FIELDSVC"
#: The VAT on the taxed claim lines: Expensify tax code -> (tax name, rate %).
_CLAIM_TAXES: Final = {"NL-VAT9": ("Netherlands VAT 9%", 9), "DE-VAT7": ("Germany VAT 7%", 7)}
#: Expensify category -> Acumatica non-stock expense item (``rules.expense_items``).
EXPENSE_ITEMS: Final = {
    "Airfare": "AIRFARE",
    "Lodging": "LODGING",
    "Meals": "MEALS",
    "Ground Transportation": "TAXI",
}
_RECEIPT_PDF: Final = b"%PDF-1.4\n% Northwind demo receipt\n" + b"0" * 512
_RECEIPT_JPEG: Final = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"1" * 512


def closed_month(today: date) -> tuple[int, int]:
    """``(year, month)`` of last month: the period the demo closes for AP."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.year, last.month


def _period_rows(year: int, closed: tuple[int, int]) -> dict[str, Any]:
    rows = []
    for month in range(1, 13):
        last_day = calendar.monthrange(year, month)[1]
        rows.append({
            "FinancialPeriodID": f"{month:02d}{year:04d}",
            "StartDate": datetime(year, month, 1, tzinfo=UTC),
            "EndDate": datetime(year, month, last_day, tzinfo=UTC),
            "Status": "Open",
            "ClosedInAP": (year, month) == closed,
        })  # fmt: skip
    return {"FinancialYear": f"{year:04d}", "Details": rows}


def accounting_rows(company: Company) -> dict[str, list[dict[str, Any]]]:
    """Calendar (last month closed for AP), tax categories and expense items (pure)."""
    closed = closed_month(company.today)
    years = sorted({closed[0], company.today.year})
    return {
        "FinancialPeriod": [_period_rows(year, closed) for year in years],
        "TaxCategory": [
            {"TaxCategoryID": code, "Description": f"Hotel VAT abroad ({code})", "Active": True}
            for code in sorted(set(TAX_CATEGORIES.values()))
        ],
        "TaxZone": [
            {
                "TaxZoneID": CLAIMS_TAX_ZONE,
                "Description": "Field Services claims: VAT abroad",
                "ApplicableTaxes": [{"TaxID": code} for code in _CLAIM_TAXES],
            }
        ],
        "NonStockItem": [
            {
                "InventoryID": item,
                "Description": category,
                "ItemType": "Expense",
                "ItemStatus": "Active",
            }
            for category, item in sorted(EXPENSE_ITEMS.items())
        ],
    }


def main_rules(company: Company) -> PostingRules:
    """The company's rules with ``closed_period = "next_open"``."""
    return attrs.evolve(company.rules(), closed_period=ClosedPeriodRule.NEXT_OPEN)


def claims_rules(company: Company) -> PostingRules:
    """The claims connection: expense claims (submitted), receipts attached, taxed
    lines on the tax categories, in the tax zone ``FIELDSVC`` (``rules.tax_zone``), closed
    periods held (the other rule than the main connection's ``next_open``)."""
    return attrs.evolve(
        company.rules(),
        reimbursable_target=ReimbursableTarget.EXPENSE_CLAIM,
        expense_items=dict(EXPENSE_ITEMS),
        claim_stage=ClaimStage.SUBMIT,
        attach_receipts=True,
        receipts_on=ReceiptTarget.LINE,  # each receipt on the claim line of its expense
        tax_categories=dict(TAX_CATEGORIES),
        tax_zone=CLAIMS_TAX_ZONE,
        closed_period=ClosedPeriodRule.HOLD,
    )


def claims_categories(company: Company) -> list[Category]:
    """The Field Services policy's categories (GL codes as in the main policy)."""
    codes = {c.name: c.gl_code for c in company.policy.categories}
    return [Category(name=name, gl_code=codes.get(name)) for name in EXPENSE_ITEMS]


def claims_members(company: Company) -> list[Any]:
    """Three employees known to Acumatica (their claims' claimants), submitting to the
    policy owner."""
    people = [p for p in company.people if p.vendor_id is not None][1:4]
    return [employee(p.email, submits_to=company.policy_owner) for p in people]


@attrs.frozen(kw_only=True)
class ClaimReport:
    """One Field Services report: who, what, when, and which receipts it links."""

    submitter: str
    name: str
    expenses: tuple[ExpenseSpec, ...]
    created: datetime
    submitted: datetime
    approved: datetime
    receipts: tuple[tuple[str, bytes, str], ...]  # (name, content, content type) served
    late: tuple[tuple[str, bytes, str], ...] = ()  # served only after the first sync


def _tax(code: str | None = None, cents: int = 0) -> dict[str, Any]:
    """The ExpenseSpec tax fields of a taxed line (none for an untaxed one)."""
    if code is None:
        return {}
    name, rate = _CLAIM_TAXES[code]
    return {"has_tax": True, "tax_code": code, "tax_name": name, "tax_rate": Decimal(rate),
            "tax_amount_cents": cents}  # fmt: skip


def claim_reports(company: Company, receipts_base: str) -> list[ClaimReport]:
    """Four reports: three approved this month (receipts, one link dead), one approved last
    month (closed for AP: held). ``receipts_base`` is the Expensify server's base URL."""
    members = [m.email for m in claims_members(company)]
    today = company.today
    this_month = max(today.replace(day=1), today - timedelta(days=2))
    last_month = today.replace(day=1) - timedelta(days=3)

    def at(day: date, hour: int) -> datetime:
        return datetime.combine(day, time(hour, 0), tzinfo=UTC)

    air, hotel, meals, taxi = "Airfare", "Lodging", "Meals", "Ground Transportation"
    # (category, cents[, tax code, tax cents]): the tax is inside the amount (9%, 7%)
    plans: list[tuple[str, str, date, list[tuple[Any, ...]]]] = [
        (
            members[0],
            "Site visit Rotterdam",
            this_month,
            [(air, 48_210), (hotel, 31_900, "NL-VAT9", 2_634)],
        ),
        (
            members[1],
            "Client workshop Frankfurt",
            this_month,
            [(meals, 8_745), (taxi, 4_300, "DE-VAT7", 281)],
        ),
        (members[2], "Warehouse audit Denver", this_month, [(taxi, 6_120)]),
        (members[0], "Field trip Boston", last_month, [(meals, 5_230)]),
    ]
    reports = []
    for index, (submitter, name, approved_on, lines) in enumerate(plans):
        specs = []
        served: list[tuple[str, bytes, str]] = []
        late: list[tuple[str, bytes, str]] = []  # served after the first sync
        for number, line in enumerate(lines):
            category, cents, *taxed = line
            tid = f"9{index:02d}{number:02d}7700000000001"
            receipt = f"fs-{index}-{number}.pdf" if number % 2 == 0 else f"fs-{index}-{number}.jpg"
            content = _RECEIPT_PDF if receipt.endswith(".pdf") else _RECEIPT_JPEG
            dead = index == 2  # its receipt link leads nowhere: a warning, not a re-post
            kind = "application/pdf" if receipt.endswith(".pdf") else "image/jpeg"
            (late if dead else served).append((receipt, content, kind))  # late: answers later
            specs.append(
                ExpenseSpec(
                    amount_cents=cents,
                    currency="USD",
                    created=approved_on - timedelta(days=3 + number),
                    merchant=f"{category} vendor",
                    category=category,
                    transaction_id=tid,
                    receipt_url=f"{receipts_base}/receipts/{receipt}",
                    **_tax(*taxed),
                )
            )
        reports.append(
            ClaimReport(
                submitter=submitter,
                name=name,
                expenses=tuple(specs),
                created=at(approved_on - timedelta(days=2), 9),
                submitted=at(approved_on - timedelta(days=1), 10),
                approved=at(approved_on, 15),
                receipts=tuple(served),
                late=tuple(late),
            )
        )
    return reports
