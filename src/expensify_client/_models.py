"""Typed, frozen value objects for Expensify (Classic) reports, expenses and policies.

Amounts are kept exactly as Expensify stores them: integers in hundredths of the currency
unit ("cents", whatever the currency's ISO minor unit, see ``cents_to_decimal``). The
``*_cents`` attributes are those integers; convert with :func:`expensify_client.cents_to_decimal`
in the currency the amount is expressed in.

Times carry a time zone (UTC: the Integration Server does not document one, see the
coverage table); calendar dates (an expense's date) are plain :class:`datetime.date`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

__all__ = [
    "Attendee",
    "Category",
    "Employee",
    "Expense",
    "Policy",
    "PolicySummary",
    "Report",
    "ReportField",
    "ReportProblem",
    "ReportState",
    "Tag",
    "TagLevel",
    "TagValue",
    "UnparsedReport",
]


class ReportState(enum.Enum):
    """Report states as the export filter ``reportState`` spells them."""

    OPEN = "OPEN"
    SUBMITTED = "SUBMITTED"
    APPROVED = "APPROVED"
    REIMBURSED = "REIMBURSED"
    ARCHIVED = "ARCHIVED"


@attrs.frozen
class ReportProblem:
    """Something odd about one field of one exported report.

    ``field`` is the path in the export (``reports[3].transactionList[0].currency``),
    ``message`` says what is wrong and ``value_repr`` is a short, truncated rendering of the
    value found (never the whole value).
    """

    field: str
    message: str
    value_repr: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message} (got {self.value_repr})"


@attrs.frozen(kw_only=True)
class TagValue:
    """The tag chosen on one level of a (multi-level) tag, as exported (``ntagX``)."""

    level: int  # 1-based, as in ``ntag1``
    name: str
    gl_code: str | None = None


@attrs.frozen(kw_only=True)
class Attendee:
    """One attendee of an expense (an item of ``attendees``), as exported.

    At least one of the two is set. ``display_name`` is the name Expensify shows.
    """

    email: str | None = None
    display_name: str | None = None

    @property
    def label(self) -> str:
        """The display name when there is one, else the e-mail address."""
        return self.display_name or self.email or ""


@attrs.frozen(kw_only=True)
class Expense:
    """One expense (an item of ``report.transactionList``)."""

    transaction_id: str
    report_id: str
    amount_cents: int  # original amount, in ``currency``
    currency: str  # original currency (ISO 4217)
    created: date  # original expense date
    merchant: str = ""
    modified_amount_cents: int | None = None  # edited amount, in ``currency``
    converted_amount_cents: int | None = None  # in the report currency
    currency_conversion_rate: Decimal | None = None
    modified_merchant: str | None = None
    modified_created: date | None = None
    inserted: datetime | None = None
    category: str | None = None
    category_gl_code: str | None = None
    category_payroll_code: str | None = None
    tag: str | None = None  # full tag string, levels joined with ':'
    tag_gl_code: str | None = None
    tags: tuple[TagValue, ...] = ()
    comment: str = ""
    reimbursable: bool = True
    billable: bool = False
    has_tax: bool = False
    tax_amount_cents: int | None = None
    tax_name: str | None = None
    tax_rate: Decimal | None = None
    tax_code: str | None = None
    mcc: str | None = None
    bank: str | None = None
    card_id: str | None = None
    card_number: str | None = None  # masked, e.g. "1234XXXXXXXX1979"
    external_id: str | None = None
    receipt_url: str | None = None
    attendees: tuple[Attendee, ...] = ()

    @property
    def effective_amount_cents(self) -> int:
        """The edited amount when there is one, else the original (both in ``currency``)."""
        return (
            self.amount_cents if self.modified_amount_cents is None else self.modified_amount_cents
        )

    @property
    def effective_merchant(self) -> str:
        """The edited merchant when there is one, else the original."""
        return self.modified_merchant or self.merchant

    @property
    def effective_date(self) -> date:
        """The edited expense date when there is one, else the original."""
        return self.modified_created or self.created


@attrs.frozen(kw_only=True)
class Report:
    """An expense report with its expenses, as the export template delivers it.

    ``status`` is the typed state, or ``None`` when the export carried a status outside the
    known vocabularies (e.g. ``"Reimbursed (withdrawing)"``); ``status_text`` always keeps the
    raw text as exported (``status``, or ``state`` when ``status`` was empty), so an unknown
    value is kept, not refused. ``problems`` lists the soft problems the parser noticed and
    worked around (an unknown status, a boolean written as a string, an unexpected key):
    the report is complete and usable, but the caller may want to say so.
    """

    report_id: str
    report_name: str
    status: ReportState | None
    policy_id: str
    currency: str  # report (policy output) currency
    total_cents: int  # report total, in ``currency``
    account_email: str  # the submitter
    created: datetime
    policy_name: str = ""
    old_report_id: str | None = None
    account_id: str | None = None
    submitter_first_name: str | None = None
    submitter_last_name: str | None = None
    submitter_full_name: str | None = None
    submitter_user_id: str | None = None
    submitter_payroll_id: str | None = None
    employee_custom_field_1: str | None = None
    employee_custom_field_2: str | None = None
    manager_email: str | None = None
    submitted: datetime | None = None
    approved: datetime | None = None
    reimbursed: datetime | None = None
    entry_id: str | None = None
    is_ach_reimbursed: bool = False
    # report fields named in the export template (expensify_client.export_template), by key
    # (the field name with every non-alphanumeric as "_"); fields without a value are absent
    custom_fields: Mapping[str, str] = attrs.field(factory=dict)
    expenses: tuple[Expense, ...] = ()
    status_text: str | None = None
    problems: tuple[ReportProblem, ...] = ()


@attrs.frozen
class UnparsedReport:
    """An exported report that could not be turned into a :class:`Report`.

    ``report_id`` is the report's ID when it could be read (``None`` otherwise),
    ``problems`` every problem found (at least one makes the report unbuildable: a retired
    or unknown currency such as ``HRK``, a field of the wrong type, a malformed date, a
    duplicate ID...), and ``raw`` the report's JSON object exactly as exported (amounts as
    ``int``/:class:`~decimal.Decimal`), for diagnosis. The other reports of the export are
    not affected.
    """

    report_id: str | None
    problems: tuple[ReportProblem, ...]
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class PolicySummary:
    """One item of the policy list getter (``policyList``)."""

    policy_id: str
    name: str
    type: str
    role: str
    owner: str
    output_currency: str


@attrs.frozen(kw_only=True)
class Category:
    """A policy category.

    ``gl_code`` is optional: the policy getter's documented answer shape carries only
    ``{name, enabled, areCommentsRequired}`` (expensify-api.md section 2.4, open question 5),
    so ``None`` is the normal case; the export's per-expense ``categoryGlCode``
    (:attr:`Expense.category_gl_code`) is the documented source of an expense's GL code.
    """

    name: str
    enabled: bool = True
    gl_code: str | None = None
    payroll_code: str | None = None
    are_comments_required: bool | None = None
    comment_hint: str | None = None
    max_expense_amount_cents: int | None = None


@attrs.frozen(kw_only=True)
class Tag:
    """One tag value of a tag level."""

    name: str
    enabled: bool = True
    gl_code: str | None = None


@attrs.frozen(kw_only=True)
class TagLevel:
    """A tag list (one level of a multi-level tag), e.g. ``"Project"``."""

    name: str
    tags: tuple[Tag, ...] = ()
    required: bool = False


@attrs.frozen(kw_only=True)
class ReportField:
    """A policy report field."""

    name: str
    type: str  # text | dropdown | date | formula
    values: tuple[str, ...] = ()
    default_value: str | None = None


@attrs.frozen(kw_only=True)
class Employee:
    """A policy member, as the policy getter returns it and the employee updater takes it."""

    email: str
    role: str = "user"  # user | auditor | admin
    submits_to: str | None = None  # manager / first approver
    employee_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    approves_to: str | None = None
    custom_field_1: str | None = None
    custom_field_2: str | None = None
    approval_limit_cents: int | None = None
    over_limit_approver: str | None = None


@attrs.frozen(kw_only=True)
class Policy:
    """A policy with the sections the policy getter returned."""

    policy_id: str
    name: str = ""
    output_currency: str | None = None
    categories: tuple[Category, ...] = ()
    tag_levels: tuple[TagLevel, ...] = ()
    report_fields: tuple[ReportField, ...] = ()
    employees: tuple[Employee, ...] = ()
