"""A seeded demo company, as pure data: same seed and ``today``, same company.

:func:`build_company` returns a :class:`Company`: a professional-services firm of about
300 people in departments (each with a manager, every reports-to chain ending at the CEO),
its Acumatica chart of accounts, subaccounts, branches, client projects with tasks, one
employee vendor per employee, the corporate card issuer, one Expensify Classic policy whose
categories carry the GL codes and whose level-1 tags ("Project") are the client projects,
and about 150 approved or reimbursed expense reports over the weeks before ``today``.
Reports with nothing reimbursable (all company card) stay at APPROVED, as in Expensify,
where they cannot be reimbursed. Hotel bills abroad include VAT (or Japan's consumption
tax) with Expensify tax codes that the rules map to Acumatica tax categories.

Two reports are designed to be held (see :attr:`Company.held`): one uses a category the
policy does not have, the other is submitted by a new hire who has no Acumatica vendor
record yet. Every other report posts cleanly. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

import attrs

from expensify_client import (
    Category,
    Expense,
    Policy,
    Report,
    ReportState,
    Tag,
    TagLevel,
    TagValue,
)
from expensify_client import Employee as Member

from .._catalog import AccountInfo, LedgerCatalog
from .._rules import AcumaticaField, CardTarget, PostingRules, ReimbursableTarget, TagMapping

__all__ = [
    "Account",
    "Branch",
    "ClientProject",
    "Company",
    "Department",
    "HeldReport",
    "Person",
    "Subaccount",
    "Vendor",
    "build_company",
]

DOMAIN: Final = "northwind-advisory.test"
DEFAULT_TODAY: Final = date(2025, 3, 14)

# --------------------------------------------------------------------------- records


@attrs.frozen(kw_only=True)
class Branch:
    """An Acumatica branch."""

    branch_id: str
    name: str
    country: str
    currency: str = "USD"


@attrs.frozen(kw_only=True)
class Department:
    """A department; ``manager_id`` is the employee ID of its head."""

    department_id: str
    name: str
    manager_id: str
    subaccount: str


@attrs.frozen(kw_only=True)
class Person:
    """An employee. ``reports_to`` is the manager's employee ID (``None`` for the CEO).

    ``vendor_id`` is the Acumatica employee/vendor ID, ``None`` for the one new hire who
    exists in Expensify only (Acumatica employees are AP vendors).
    """

    employee_id: str
    first_name: str
    last_name: str
    email: str
    title: str
    department_id: str
    branch_id: str
    reports_to: str | None
    vendor_id: str | None

    @property
    def name(self) -> str:
        """``First Last``."""
        return f"{self.first_name} {self.last_name}"


@attrs.frozen(kw_only=True)
class Account:
    """A GL account: code (``AccountCD``), description, type, active flag."""

    code: str
    description: str
    type: str
    active: bool = True


@attrs.frozen(kw_only=True)
class Subaccount:
    """A subaccount (one per department, plus the default)."""

    code: str
    description: str


@attrs.frozen(kw_only=True)
class ClientProject:
    """A client project with its tasks (the first task is the default)."""

    project_id: str
    description: str
    customer: str
    tasks: tuple[tuple[str, str], ...]  # (task ID, description)


@attrs.frozen(kw_only=True)
class Vendor:
    """An AP vendor: an employee (``kind="employee"``) or the card issuer."""

    vendor_id: str
    name: str
    kind: str  # employee | card_issuer
    email: str | None = None
    ap_account: str = "20000"


@attrs.frozen(kw_only=True)
class HeldReport:
    """A report designed to be held: the expected error code and how an admin fixes it."""

    report_id: str
    code: str  # an ErrorCode name, e.g. "CATEGORY_UNKNOWN"
    reason: str
    fix: str


@attrs.frozen(kw_only=True)
class Company:
    """The whole demo company (see the module docstring). Pure, frozen data."""

    seed: int
    today: date
    name: str
    domain: str
    base_currency: str
    branches: tuple[Branch, ...]
    departments: tuple[Department, ...]
    people: tuple[Person, ...]
    accounts: tuple[Account, ...]
    subaccounts: tuple[Subaccount, ...]
    projects: tuple[ClientProject, ...]
    vendors: tuple[Vendor, ...]
    card_vendor_id: str
    ap_account: str
    employee_liability_account: str
    card_liability_account: str
    default_subaccount: str
    policy: Policy
    policy_owner: str
    reports: tuple[Report, ...]
    held: tuple[HeldReport, ...]

    @property
    def ceo(self) -> Person:
        """The one person who reports to nobody."""
        return next(p for p in self.people if p.reports_to is None)

    def person(self, employee_id: str) -> Person:
        """The person with ``employee_id``."""
        return next(p for p in self.people if p.employee_id == employee_id)

    def person_by_email(self, email: str) -> Person:
        """The person whose email is ``email`` (case-insensitive)."""
        wanted = email.lower()
        return next(p for p in self.people if p.email.lower() == wanted)

    def rules(self) -> PostingRules:
        """The posting rules the demo uses: reimbursable spend as AP bills to the
        employee's vendor, card spend as journals crediting the card liability account,
        level-1 tags as projects, dates in New York time, hotel VAT abroad as the lines'
        tax categories (:data:`TAX_CATEGORIES`)."""
        return PostingRules(
            reimbursable_target=ReimbursableTarget.AP_BILL,
            card_target=CardTarget.JOURNAL,
            tag_map=(TagMapping(level=1, field=AcumaticaField.PROJECT, use_gl_code=True),),
            default_branch=self.branches[0].branch_id,
            default_subaccount=self.default_subaccount,
            employee_liability_account=self.employee_liability_account,
            card_liability_account=self.card_liability_account,
            card_vendor=self.card_vendor_id,
            base_currency=self.base_currency,
            timezone="America/New_York",
            tax_categories=dict(TAX_CATEGORIES),
        )

    def catalog(self) -> LedgerCatalog:
        """The :class:`LedgerCatalog` the bridge would read from the seeded Acumatica."""
        # Passed as a mapping: LedgerCatalog's frozenset converters confuse mypy's attrs plugin.
        sets: dict[str, Any] = {
            "subaccounts": frozenset(s.code for s in self.subaccounts),
            "vendors": frozenset(v.vendor_id for v in self.vendors),
            "projects": frozenset(p.project_id for p in self.projects),
            "project_tasks": frozenset(
                (p.project_id, task) for p in self.projects for task, _ in p.tasks
            ),
            "branches": frozenset(b.branch_id for b in self.branches),
        }
        return LedgerCatalog(
            accounts=[
                AccountInfo(code=a.code, active=a.active, type=a.type, description=a.description)
                for a in self.accounts
            ],
            vendor_by_email={v.email: v.vendor_id for v in self.vendors if v.email},
            **sets,
            currencies=None,
        )

    @property
    def submitters(self) -> tuple[str, ...]:
        """Emails of everyone with at least one report, sorted."""
        return tuple(sorted({r.account_email for r in self.reports}))


# --------------------------------------------------------------------------- fixed data

_FIRST: Final = (
    "Aisha", "Alejandro", "Amelia", "Ananya", "Andre", "Ava", "Benjamin", "Camila", "Carlos",
    "Charlotte", "Chloe", "Daniel", "David", "Diego", "Eleanor", "Elena", "Emily", "Ethan",
    "Fatima", "Gabriel", "Grace", "Hannah", "Hiroshi", "Isabella", "Isaac", "Jack", "James",
    "Jasmine", "Julia", "Kai", "Kenji", "Laura", "Leah", "Liam", "Lucas", "Maya", "Mei",
    "Mia", "Michael", "Nadia", "Noah", "Olivia", "Omar", "Priya", "Rafael", "Rohan", "Ruth",
    "Samuel", "Sara", "Sofia", "Tomas", "Victoria", "William", "Yara", "Zoe",
)  # fmt: skip
_LAST: Final = (
    "Abbott", "Adeyemi", "Alvarez", "Bailey", "Bennett", "Brooks", "Chen", "Cohen", "Dalton",
    "Das", "Evans", "Fischer", "Flores", "Garcia", "Gupta", "Hansen", "Hughes", "Ito",
    "Jensen", "Kapoor", "Kim", "Kowalski", "Larsen", "Lopez", "Martin", "Meyer", "Morales",
    "Nakamura", "Nguyen", "Novak", "O'Brien", "Okafor", "Patel", "Perez", "Quinn", "Reyes",
    "Rossi", "Sato", "Schmidt", "Shah", "Silva", "Singh", "Sullivan", "Tanaka", "Torres",
    "Valdez", "Walsh", "Weber", "Williams", "Wong", "Yilmaz", "Zhang",
)  # fmt: skip

_BRANCHES: Final = (
    Branch(branch_id="HQ", name="Northwind Advisory New York", country="US"),
    Branch(branch_id="CHICAGO", name="Northwind Advisory Chicago", country="US"),
    Branch(branch_id="SFO", name="Northwind Advisory San Francisco", country="US"),
)

# (department ID, name, headcount including the manager, manager title, staff titles)
_DEPARTMENTS: Final = (
    ("STRAT", "Strategy Consulting", 62, "Managing Director, Strategy",
     ("Consultant", "Senior Consultant", "Manager", "Analyst")),
    ("OPS", "Operations Consulting", 58, "Managing Director, Operations",
     ("Consultant", "Senior Consultant", "Manager", "Analyst")),
    ("TECH", "Technology Advisory", 54, "Managing Director, Technology",
     ("Technology Consultant", "Solution Architect", "Manager", "Analyst")),
    ("RISK", "Risk & Assurance", 40, "Partner, Risk & Assurance",
     ("Risk Consultant", "Senior Auditor", "Manager")),
    ("TAX", "Tax Advisory", 30, "Partner, Tax",
     ("Tax Consultant", "Senior Tax Consultant", "Tax Manager")),
    ("BD", "Business Development", 14, "Head of Business Development",
     ("Account Executive", "Proposal Manager")),
    ("FIN", "Finance", 12, "Chief Financial Officer",
     ("Accountant", "AP Specialist", "Financial Analyst")),
    ("PEOPLE", "People & Talent", 9, "Head of People", ("HR Partner", "Recruiter")),
    ("IT", "Internal IT", 8, "Head of IT", ("Systems Engineer", "Service Desk Analyst")),
    ("MKT", "Marketing", 8, "Head of Marketing", ("Marketing Manager", "Designer")),
)  # fmt: skip

# (code, description, type)
_ACCOUNTS: Final = (
    ("10100", "Operating Cash", "Asset"),
    ("12000", "Accounts Receivable", "Asset"),
    ("20000", "Accounts Payable", "Liability"),
    ("20500", "Employee Reimbursements Payable", "Liability"),
    ("20600", "Corporate Card Payable", "Liability"),
    ("40000", "Consulting Revenue", "Income"),
    ("61100", "Travel - Airfare", "Expense"),
    ("61200", "Travel - Lodging", "Expense"),
    ("61300", "Travel - Meals", "Expense"),
    ("61400", "Travel - Ground Transportation", "Expense"),
    ("61500", "Travel - Mileage", "Expense"),
    ("62100", "Client Entertainment", "Expense"),
    ("63100", "Office Supplies", "Expense"),
    ("63200", "Software & Subscriptions", "Expense"),
    ("64100", "Conferences & Events", "Expense"),
    ("64200", "Training & Education", "Expense"),
    ("65100", "Telephone & Mobile", "Expense"),
)

# Expensify category -> GL code (the policy's GL map)
_CATEGORIES: Final = (
    ("Airfare", "61100"),
    ("Lodging", "61200"),
    ("Meals", "61300"),
    ("Ground Transportation", "61400"),
    ("Mileage", "61500"),
    ("Client Entertainment", "62100"),
    ("Office Supplies", "63100"),
    ("Software", "63200"),
    ("Conferences", "64100"),
    ("Training", "64200"),
    ("Phone", "65100"),
)
#: The category of the designed "not in the policy" report.
UNKNOWN_CATEGORY: Final = "Client Gifts"

_CLIENTS: Final = (
    ("ACME", "Acme Logistics", "Network redesign"),
    ("BLUEH", "Bluehaven Health", "Care operations review"),
    ("CASCA", "Cascade Energy", "Grid modernisation PMO"),
    ("DELTA", "Delta Freight", "Procurement transformation"),
    ("EVERG", "Evergreen Foods", "Supply chain diagnostic"),
    ("FJORD", "Fjord Maritime", "Fleet strategy"),
    ("GRANI", "Granite Bank", "Regulatory reporting"),
    ("HARBR", "Harbor City Council", "Digital services roadmap"),
    ("IRONW", "Ironwood Manufacturing", "Plant performance"),
    ("JUNIP", "Juniper Retail", "Store operating model"),
    ("KESTR", "Kestrel Aerospace", "ERP selection"),
    ("LUMEN", "Lumen Telecom", "Cost transformation"),
    ("MERID", "Meridian Insurance", "Claims automation"),
    ("NORTH", "Northstar Pharma", "Launch readiness"),
    ("ORION", "Orion Media", "Post-merger integration"),
    ("PINEC", "Pinecrest University", "Shared services design"),
    ("QUART", "Quartz Semiconductors", "Tax structuring"),
    ("RIVER", "Riverbend Utilities", "Cyber risk assessment"),
    ("SUMMT", "Summit Hotels", "Revenue management"),
    ("TIDAL", "Tidal Renewables", "Due diligence"),
)
_TASKS: Final = (("01", "Discovery"), ("02", "Delivery"), ("03", "Travel & expenses"))

# Foreign currencies: code, USD per unit, typical cities.
_FX: Final = {
    "EUR": (Decimal("1.0850"), ("Paris", "Frankfurt", "Amsterdam", "Madrid")),
    "GBP": (Decimal("1.2710"), ("London", "Manchester", "Edinburgh")),
    "JPY": (Decimal("0.006710"), ("Tokyo", "Osaka")),
}
# Hotel VAT/consumption tax by city: (Expensify tax code, tax name, rate %). Hotel bills
# abroad include the tax; the bridge maps each code to an Acumatica tax category.
_LODGING_TAX: Final = {
    "London": ("GB-VAT20", "UK VAT 20%", 20),
    "Manchester": ("GB-VAT20", "UK VAT 20%", 20),
    "Edinburgh": ("GB-VAT20", "UK VAT 20%", 20),
    "Paris": ("FR-VAT10", "France VAT 10%", 10),
    "Madrid": ("ES-VAT10", "Spain VAT 10%", 10),
    "Frankfurt": ("DE-VAT7", "Germany VAT 7%", 7),
    "Amsterdam": ("NL-VAT9", "Netherlands VAT 9%", 9),
    "Tokyo": ("JP-CT10", "Japan consumption tax 10%", 10),
    "Osaka": ("JP-CT10", "Japan consumption tax 10%", 10),
}
#: Expensify tax code -> Acumatica tax category (``rules.tax_categories``).
TAX_CATEGORIES: Final = {
    "GB-VAT20": "VATGB",
    "FR-VAT10": "VATEU",
    "ES-VAT10": "VATEU",
    "DE-VAT7": "VATEU",
    "NL-VAT9": "VATEU",
    "JP-CT10": "CTJP",
}
_US_CITIES: Final = ("Boston", "Chicago", "Denver", "Atlanta", "Seattle", "Dallas", "Austin")

_AIRLINES: Final = ("Delta Air Lines", "United Airlines", "American Airlines", "JetBlue")
_HOTELS: Final = ("Marriott", "Hilton", "Hyatt Regency", "Westin", "Kimpton")
_RIDES: Final = ("Uber", "Lyft", "Yellow Cab", "Hertz")
_RESTAURANTS: Final = (
    "Blue Ribbon", "The Capital Grille", "Nobu", "Le Bernardin", "Shake Shack", "Sweetgreen",
    "Panera Bread", "Chipotle", "Joe's Pizza", "Balthazar",
)  # fmt: skip
_CARD_BANK: Final = "American Express"


# --------------------------------------------------------------------------- building


def _email(first: str, last: str, taken: set[str]) -> str:
    local = f"{first}.{last}".lower().replace("'", "")
    candidate, n = local, 2
    while candidate in taken:
        candidate, n = f"{local}{n}", n + 1
    taken.add(candidate)
    return f"{candidate}@{DOMAIN}"


def _people(rng: random.Random) -> tuple[tuple[Department, ...], tuple[Person, ...], Person]:
    """Departments, everyone with a vendor record, and the new hire without one."""
    taken: set[str] = set()
    counter = iter(range(1, 10_000))

    def make(title: str, dept: str, branch: str, reports_to: str | None) -> Person:
        number = next(counter)
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        employee_id = f"EP{number:08d}"
        return Person(
            employee_id=employee_id,
            first_name=first,
            last_name=last,
            email=_email(first, last, taken),
            title=title,
            department_id=dept,
            branch_id=branch,
            reports_to=reports_to,
            vendor_id=employee_id,
        )

    ceo = make("Chief Executive Officer", "EXEC", "HQ", None)
    coo = make("Chief Operating Officer", "EXEC", "HQ", ceo.employee_id)
    people: list[Person] = [ceo, coo]
    departments = [
        Department(department_id="EXEC", name="Executive", manager_id=ceo.employee_id,
                   subaccount="0100"),
    ]  # fmt: skip
    for index, (dept_id, name, size, head_title, titles) in enumerate(_DEPARTMENTS):
        # Client-facing practices report to the COO, support functions to the CEO.
        boss = coo if index < 6 else ceo
        branch = _BRANCHES[index % len(_BRANCHES)].branch_id
        head = make(head_title, dept_id, branch, boss.employee_id)
        people.append(head)
        departments.append(
            Department(
                department_id=dept_id,
                name=name,
                manager_id=head.employee_id,
                subaccount=f"{(index + 2) * 100:04d}",
            )
        )
        # Larger practices have team leads between the head and the staff.
        leads = [
            make("Principal", dept_id, _BRANCHES[k % 3].branch_id, head.employee_id)
            for k in range(max(0, (size - 1) // 15))
        ]
        people.extend(leads)
        for _ in range(size - 1 - len(leads)):
            manager = rng.choice(leads) if leads else head
            branch_id = manager.branch_id if rng.random() < 0.8 else rng.choice(_BRANCHES).branch_id
            people.append(make(rng.choice(titles), dept_id, branch_id, manager.employee_id))
    # The new hire who is in Expensify but not (yet) in Acumatica: no vendor record.
    strat_head = next(d for d in departments if d.department_id == "STRAT").manager_id
    new_hire = attrs.evolve(make("Consultant", "STRAT", "HQ", strat_head), vendor_id=None)
    people.append(new_hire)
    return tuple(departments), tuple(people), new_hire


def _money(rng: random.Random, low: int, high: int, step: int = 1) -> int:
    """A random amount in cents between ``low`` and ``high`` dollars-ish, in ``step`` cents."""
    return rng.randrange(low, high + 1, step)


class _Ids:
    """Deterministic Expensify-looking IDs."""

    def __init__(self, rng: random.Random) -> None:
        self._report = 74_000_000 + rng.randrange(1_000_000)
        self._txn = 5_300_000_000_000_000_000 + rng.randrange(10**15)

    def report(self) -> str:
        self._report += 1 + (self._report * 7) % 13
        return str(self._report)

    def transaction(self) -> str:
        self._txn += 1 + (self._txn * 11) % 97
        return str(self._txn)


@attrs.define
class _Draft:
    """An expense while a report is being generated."""

    category: str
    merchant: str
    amount_cents: int  # in ``currency``
    currency: str
    day: date
    reimbursable: bool = True
    comment: str = ""
    project: ClientProject | None = None
    tax: tuple[str, str, int] | None = None  # (tax code, tax name, rate %), tax included


def _included_tax(amount_cents: int, currency: str, rate: int) -> int:
    """The tax inside a tax-inclusive ``amount_cents`` at ``rate`` %, half up (whole yen)."""
    tax = Decimal(amount_cents) * rate / (100 + rate)
    if currency == "JPY":
        return int((tax / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * 100
    return int(tax.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _convert(amount_cents: int, currency: str) -> tuple[int, Decimal]:
    rate = _FX[currency][0]
    converted = (Decimal(amount_cents) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(converted), rate


def _foreign_amount(rng: random.Random, currency: str, usd_low: int, usd_high: int) -> int:
    """An amount in ``currency`` cents roughly worth ``usd_low``..``usd_high`` USD cents."""
    usd = rng.randrange(usd_low, usd_high + 1)
    cents = int(Decimal(usd) / _FX[currency][0])
    if currency == "JPY":  # no minor unit: whole yen only
        cents = max(100, cents // 100 * 100)
    return cents


def _trip(
    rng: random.Random, start: date, project: ClientProject | None, currency: str
) -> list[_Draft]:
    nights = rng.randint(1, 4)
    foreign = currency != "USD"
    city = rng.choice(_FX[currency][1]) if foreign else rng.choice(_US_CITIES)
    drafts = [
        _Draft(
            category="Airfare",
            merchant=rng.choice(_AIRLINES),
            amount_cents=_money(rng, 24_000 if not foreign else 68_000, 95_000 if not foreign
                                else 240_000),
            currency="USD",
            day=start - timedelta(days=rng.randint(5, 20)),
            comment=f"Round trip to {city}",
            project=project,
        )
    ]  # fmt: skip
    if foreign:
        lodging = _foreign_amount(rng, currency, 18_000 * nights, 42_000 * nights)
    else:
        lodging = _money(rng, 16_000, 34_000) * nights
    drafts.append(
        _Draft(
            category="Lodging",
            merchant=f"{rng.choice(_HOTELS)} {city}",
            amount_cents=lodging,
            currency=currency,
            day=start + timedelta(days=nights),
            comment=f"{nights} night{'s' if nights > 1 else ''}",
            project=project,
            tax=_LODGING_TAX.get(city),
        )
    )
    for night in range(nights):
        amount = (
            _foreign_amount(rng, currency, 1_800, 9_500) if foreign else _money(rng, 1_400, 8_500)
        )
        drafts.append(
            _Draft(
                category="Meals",
                merchant=rng.choice(_RESTAURANTS),
                amount_cents=amount,
                currency=currency,
                day=start + timedelta(days=night),
                project=project,
            )
        )
    for leg in range(rng.randint(1, 3)):
        amount = (
            _foreign_amount(rng, currency, 1_500, 9_000) if foreign else _money(rng, 1_200, 8_800)
        )
        drafts.append(
            _Draft(
                category="Ground Transportation",
                merchant=rng.choice(_RIDES),
                amount_cents=amount,
                currency=currency,
                day=start + timedelta(days=min(leg, nights)),
                project=project,
            )
        )
    return drafts


def _local(rng: random.Random, day: date, project: ClientProject | None) -> list[_Draft]:
    kind = rng.choice(("entertainment", "mileage", "supplies", "software", "phone", "training"))
    if kind == "entertainment":
        return [
            _Draft(
                category="Client Entertainment",
                merchant=rng.choice(_RESTAURANTS),
                amount_cents=_money(rng, 9_000, 68_000),
                currency="USD",
                day=day,
                comment="Client dinner",
                project=project,
            )
        ]
    if kind == "mileage":
        miles = rng.randint(18, 240)
        return [
            _Draft(
                category="Mileage",
                merchant=f"{miles} miles @ $0.67",
                amount_cents=miles * 67,
                currency="USD",
                day=day,
                comment="Client site visit",
                project=project,
            )
        ]
    if kind == "supplies":
        return [_Draft(category="Office Supplies", merchant="Staples",
                       amount_cents=_money(rng, 900, 14_500), currency="USD", day=day)]  # fmt: skip
    if kind == "software":
        return [_Draft(category="Software", merchant=rng.choice(("Miro", "Figma", "Tableau",
                       "Zoom", "Notion")), amount_cents=_money(rng, 1_200, 29_900),
                       currency="USD", day=day)]  # fmt: skip
    if kind == "phone":
        carrier = rng.choice(("Verizon", "AT&T", "T-Mobile"))
        amount = _money(rng, 4_500, 9_500)
        return [_Draft(category="Phone", merchant=carrier, amount_cents=amount, currency="USD",
                       day=day)]  # fmt: skip
    return [
        _Draft(
            category=rng.choice(("Training", "Conferences")),
            merchant=rng.choice(("Coursera", "PMI", "Gartner Symposium", "AICPA", "O'Reilly")),
            amount_cents=_money(rng, 19_900, 189_000),
            currency="USD",
            day=day,
        )
    ]


def _expense(draft: _Draft, *, ids: _Ids, report_id: str, inserted: datetime) -> Expense:
    converted: int | None = None
    rate: Decimal | None = None
    if draft.currency != "USD":
        converted, rate = _convert(draft.amount_cents, draft.currency)
    gl_code = dict(_CATEGORIES).get(draft.category)
    tags: tuple[TagValue, ...] = ()
    tag = tag_gl = None
    if draft.project is not None:
        tag = _tag_name(draft.project)
        tag_gl = draft.project.project_id
        tags = (TagValue(level=1, name=tag, gl_code=tag_gl),)
    tax_fields: dict[str, Any] = {}
    if draft.tax is not None:
        code, tax_name, percent = draft.tax
        tax_fields = {
            "has_tax": True,
            "tax_code": code,
            "tax_name": tax_name,
            "tax_rate": Decimal(percent),
            "tax_amount_cents": _included_tax(draft.amount_cents, draft.currency, percent),
        }
    return Expense(
        transaction_id=ids.transaction(),
        report_id=report_id,
        amount_cents=draft.amount_cents,
        currency=draft.currency,
        created=draft.day,
        merchant=draft.merchant,
        converted_amount_cents=converted,
        currency_conversion_rate=rate,
        inserted=inserted,
        category=draft.category,
        category_gl_code=gl_code,
        tag=tag,
        tag_gl_code=tag_gl,
        tags=tags,
        comment=draft.comment,
        reimbursable=draft.reimbursable,
        billable=draft.project is not None and draft.category != "Client Entertainment",
        bank=None if draft.reimbursable else _CARD_BANK,
        card_id=None if draft.reimbursable else "4111-XXXX-1007",
        **tax_fields,
    )


def _tag_name(project: ClientProject) -> str:
    return f"{project.customer}: {project.description}"


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def _report(
    rng: random.Random,
    ids: _Ids,
    *,
    person: Person,
    manager_email: str | None,
    drafts: list[_Draft],
    name: str,
    today: date,
    policy: Policy,
) -> Report:
    report_id = ids.report()
    last_day = max(d.day for d in drafts)
    first_day = min(d.day for d in drafts)
    created = _at(first_day, rng.randint(8, 20), rng.randint(0, 59))
    submitted = _at(min(last_day + timedelta(days=rng.randint(0, 3)), today - timedelta(days=2)),
                    rng.randint(8, 22), rng.randint(0, 59))  # fmt: skip
    submitted = max(submitted, created + timedelta(hours=1))
    approved = submitted + timedelta(hours=rng.randint(2, 70))
    approved = min(approved, _at(today - timedelta(days=1), 17, 0))
    approved = max(approved, submitted + timedelta(minutes=30))
    reimbursed: datetime | None = None
    status = ReportState.APPROVED
    # A card-only report has nothing to reimburse: it is final at APPROVED (Expensify never
    # reimburses it). The draws are made either way so that the rest of the company is the
    # same whatever the report's expenses are.
    if approved.date() + timedelta(days=5) < today and rng.random() < 0.55:
        paid_at = approved + timedelta(days=rng.randint(2, 5), hours=rng.randint(0, 8))
        if any(d.reimbursable for d in drafts):
            reimbursed = paid_at
            status = ReportState.REIMBURSED
    expenses = tuple(
        _expense(d, ids=ids, report_id=report_id, inserted=created + timedelta(minutes=3 * i))
        for i, d in enumerate(sorted(drafts, key=lambda d: d.day))
    )
    total = sum(
        e.converted_amount_cents if e.converted_amount_cents is not None else e.amount_cents
        for e in expenses
    )
    return Report(
        report_id=report_id,
        report_name=name,
        status=status,
        policy_id=policy.policy_id,
        policy_name=policy.name,
        currency="USD",
        total_cents=total,
        account_email=person.email,
        submitter_first_name=person.first_name,
        submitter_last_name=person.last_name,
        submitter_full_name=person.name,
        submitter_user_id=person.employee_id,
        manager_email=manager_email,
        created=created,
        submitted=submitted,
        approved=approved,
        reimbursed=reimbursed,
        expenses=expenses,
    )


def build_company(seed: int = 7, *, today: date | None = None) -> Company:
    """The demo company for ``seed`` with reports in the weeks before ``today``.

    ``today`` defaults to a fixed date (not the clock), so the default company is the
    same everywhere; pass the real date to make the reports recent.
    """
    today = today or DEFAULT_TODAY
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    departments, people, new_hire = _people(rng)
    by_id = {p.employee_id: p for p in people}
    accounts = tuple(Account(code=c, description=d, type=t) for c, d, t in _ACCOUNTS)
    subaccounts = (
        Subaccount(code="0000", description="Firm-wide"),
        *(Subaccount(code=d.subaccount, description=d.name) for d in departments),
    )
    projects = tuple(
        ClientProject(
            project_id=f"{code}{25 + (i % 2):02d}",
            description=what,
            customer=customer,
            tasks=_TASKS,
        )
        for i, (code, customer, what) in enumerate(_CLIENTS)
    )
    card_vendor = Vendor(
        vendor_id="AMEXCORP", name="American Express Corporate Card", kind="card_issuer"
    )
    vendors = (
        *(
            Vendor(vendor_id=p.vendor_id, name=p.name, kind="employee", email=p.email)
            for p in people
            if p.vendor_id is not None
        ),
        card_vendor,
    )
    ceo = people[0]
    owner = f"expenses.admin@{DOMAIN}"
    policy_id = f"{rng.getrandbits(64):016X}"
    members = tuple(
        Member(
            email=p.email,
            role="admin" if p.department_id == "FIN" and p.reports_to == ceo.employee_id
            else "user",
            submits_to=by_id[p.reports_to].email if p.reports_to else owner,
            employee_id=p.employee_id,
            first_name=p.first_name,
            last_name=p.last_name,
        )
        for p in people
    )  # fmt: skip
    policy = Policy(
        policy_id=policy_id,
        name="Northwind Advisory - Corporate",
        output_currency="USD",
        categories=tuple(Category(name=n, gl_code=g) for n, g in _CATEGORIES),
        tag_levels=(
            TagLevel(
                name="Project",
                tags=tuple(Tag(name=_tag_name(p), gl_code=p.project_id) for p in projects),
            ),
        ),
        employees=members,
    )

    ids = _Ids(rng)
    reports: list[Report] = []
    travellers = [
        p for p in people
        if p.department_id in {"STRAT", "OPS", "TECH", "RISK", "TAX", "BD"} and p is not new_hire
    ]  # fmt: skip
    others = [p for p in people if p not in travellers and p is not new_hire]

    def manager_of(person: Person) -> str | None:
        return by_id[person.reports_to].email if person.reports_to else owner

    def add(person: Person, drafts: list[_Draft], name: str) -> Report:
        report = _report(
            rng, ids, person=person, manager_email=manager_of(person), drafts=drafts,
            name=name, today=today, policy=policy,
        )  # fmt: skip
        reports.append(report)
        return report

    window = 42  # six weeks of reports
    for n in range(146):
        start = today - timedelta(days=rng.randint(6, window))
        if n % 6 == 5:
            person = rng.choice(others)
            drafts = _local(rng, start, None)
            name = f"{start:%B} expenses"
        else:
            person = rng.choice(travellers)
            project = rng.choice(projects)
            roll = rng.random()
            if roll < 0.18:
                currency = rng.choice(("EUR", "GBP", "JPY"))
                drafts = _trip(rng, start, project, currency)
                city = drafts[1].merchant.split(" ", 1)[1]
                name = f"{project.customer} - {city} trip"
            elif roll < 0.70:
                drafts = _trip(rng, start, project, "USD")
                name = f"{project.customer} - {start:%b %d} site visit"
            else:
                drafts = _local(rng, start, project)
                name = f"{project.customer} - client costs {start:%b %d}"
            # Roughly one report in five has company-card spend (airfare booked on the card).
            if rng.random() < 0.2:
                drafts[0].reimbursable = False
        add(person, drafts, name)

    # A refund: a cancelled flight credited back, in a trip that still costs money.
    refund_person = rng.choice(travellers)
    refund_project = projects[3]
    start = today - timedelta(days=16)
    drafts = _trip(rng, start, refund_project, "USD")
    drafts.append(
        _Draft(
            category="Airfare",
            merchant="Delta Air Lines",
            amount_cents=-_money(rng, 21_000, 38_000),
            currency="USD",
            day=start - timedelta(days=2),
            comment="Refund: cancelled outbound flight",
            project=refund_project,
        )
    )
    add(refund_person, drafts, f"{refund_project.customer} - rebooked trip (refund)")

    # A report that is all company-card spend.
    card_person = rng.choice(travellers)
    drafts = _trip(rng, today - timedelta(days=11), projects[7], "USD")
    for draft in drafts:
        draft.reimbursable = False
    add(card_person, drafts, f"{projects[7].customer} - corporate card")

    # Held 1: a category the policy does not have (deleted from the policy after use).
    gift_person = rng.choice(travellers)
    gift_day = today - timedelta(days=9)
    gift = add(
        gift_person,
        [
            _Draft(category="Meals", merchant=rng.choice(_RESTAURANTS),
                   amount_cents=_money(rng, 2_500, 7_500), currency="USD", day=gift_day,
                   project=projects[0]),
            _Draft(category=UNKNOWN_CATEGORY, merchant="Tiffany & Co.", amount_cents=18_500,
                   currency="USD", day=gift_day, comment="Thank-you gift for client sponsor",
                   project=projects[0]),
        ],
        f"{projects[0].customer} - sponsor gift",
    )  # fmt: skip

    # Held 2: the new hire who has no vendor record in Acumatica yet.
    hire = add(
        new_hire,
        _trip(rng, today - timedelta(days=13), projects[1], "USD"),
        f"{projects[1].customer} - first client visit",
    )
    held = (
        HeldReport(
            report_id=gift.report_id,
            code="CATEGORY_UNKNOWN",
            reason=f"category {UNKNOWN_CATEGORY!r} is not in the policy's GL map",
            fix=(
                f"Add the category {UNKNOWN_CATEGORY!r} with a GL code to the Expensify "
                "policy (or recategorise the expense), then run 'expense-bridge replay "
                f"{gift.report_id}'."
            ),
        ),
        HeldReport(
            report_id=hire.report_id,
            code="SUBMITTER_NO_VENDOR",
            reason=f"{new_hire.email} has no employee/vendor record in Acumatica",
            fix=(
                f"Create the employee {new_hire.name} ({new_hire.email}) in Acumatica, then "
                f"run 'expense-bridge replay {hire.report_id}'."
            ),
        ),
    )
    return Company(
        seed=seed,
        today=today,
        name="Northwind Advisory LLP",
        domain=DOMAIN,
        base_currency="USD",
        branches=_BRANCHES,
        departments=departments,
        people=people,
        accounts=accounts,
        subaccounts=subaccounts,
        projects=projects,
        vendors=vendors,
        card_vendor_id=card_vendor.vendor_id,
        ap_account="20000",
        employee_liability_account="20500",
        card_liability_account="20600",
        default_subaccount="0000",
        policy=policy,
        policy_owner=owner,
        reports=tuple(sorted(reports, key=lambda r: (r.approved or r.created, r.report_id))),
        held=held,
    )


def held_ids(company: Company) -> Mapping[str, HeldReport]:
    """The designed held reports by report ID."""
    return {h.report_id: h for h in company.held}
