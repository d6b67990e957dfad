"""In-memory state and business rules of the emulated Integration Server.

One :class:`Backend` holds partner accounts, policies (categories with GL codes, tag
levels with GL codes, report fields, employees with roles and approval chains), reports
(expenses, workflow timestamps, history, export labels) and generated files. It knows
nothing about HTTP or JSON envelopes: ``_handlers`` parse jobs and call it. IDs come from
counters restarted by :meth:`Backend.reset`, and file names from a seeded PRNG, so tests
can predict them. Every public method takes the backend lock (the loopback server is
threaded).
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

import attrs

from .._models import Category, Employee, ReportField, ReportState, Tag, TagLevel
from ._errors import EmulatorStateError
from ._seed import ExpenseSpec

__all__ = [
    "APPROVAL_MODES",
    "NOT_REIMBURSABLE",
    "STATUS_NAMES",
    "Account",
    "Backend",
    "EmployeeUpdate",
    "FileRecord",
    "PolicyState",
    "ReportRecord",
    "reference_date",
]

#: Website names of the export states (``status`` in templates, skip reasons).
STATUS_NAMES: Final = {
    ReportState.OPEN: "Open",
    ReportState.SUBMITTED: "Processing",
    ReportState.APPROVED: "Approved",
    ReportState.REIMBURSED: "Reimbursed",
    ReportState.ARCHIVED: "Closed",
}
_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_NON_ALNUM: Final = re.compile(r"[^A-Za-z0-9]")
_DATETIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
_SEED: Final = 20241217
#: Skip reason of the report status updater for a card-only report (emulator text).
NOT_REIMBURSABLE: Final = "Report has no reimbursable expenses"
#: Policy workflows the emulator plays (``approval_mode`` of :meth:`Backend.add_policy`).
APPROVAL_MODES: Final = frozenset({"submit_and_approve", "submit_and_close"})


def _utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return moment.astimezone(UTC)


def _fmt(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime(_DATETIME_FORMAT)


def _base62(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    return digits.rjust(width, "0")


def custom_field_key(name: str) -> str:
    """A report field's template key: every non-alphanumeric character becomes ``_``."""
    return _NON_ALNUM.sub("_", name)


@attrs.define(kw_only=True)
class Account:
    """A partner account: ``partnerUserID`` / secret and the Expensify login it acts as."""

    partner_user_id: str
    partner_user_secret: str = attrs.field(repr=False)
    email: str


@attrs.define(kw_only=True)
class PolicyState:
    """A policy's mutable state (sections kept as the client's frozen models)."""

    policy_id: str
    name: str
    owner: str
    output_currency: str
    type: str = "corporate"
    #: ``submit_and_approve`` (default) or ``submit_and_close`` (submitted reports go
    #: straight to Closed, website "Submit and Close" workflow).
    approval_mode: str = "submit_and_approve"
    categories: dict[str, Category] = attrs.Factory(dict)
    tag_levels: list[TagLevel] = attrs.Factory(list)
    report_fields: list[ReportField] = attrs.Factory(list)
    employees: dict[str, Employee] = attrs.Factory(dict)
    #: Tag name -> approver email (``update``/``tagApprovers``).
    tag_approvers: dict[str, str] = attrs.Factory(dict)

    def role_of(self, email: str) -> str | None:
        """``admin`` for the owner, else the member's role, else ``None``."""
        if email.lower() == self.owner.lower():
            return "admin"
        member = self.employees.get(email.lower())
        return None if member is None else member.role

    def copy(self) -> PolicyState:
        """A copy whose dicts and lists can be changed independently (models are frozen)."""
        return attrs.evolve(
            self,
            categories=dict(self.categories),
            tag_levels=list(self.tag_levels),
            report_fields=list(self.report_fields),
            employees=dict(self.employees),
            tag_approvers=dict(self.tag_approvers),
        )


@attrs.define(kw_only=True)
class ExpenseRecord:
    """A stored expense: the seed values plus its IDs and conversion."""

    transaction_id: str
    spec: ExpenseSpec
    converted_amount_cents: int
    conversion_rate: Decimal
    inserted: datetime


@attrs.define(kw_only=True)
class ReportRecord:
    """A stored report and its history."""

    report_id: str
    policy_id: str
    submitter: str
    name: str
    currency: str
    created: datetime
    expenses: list[ExpenseRecord]
    state: ReportState = ReportState.OPEN
    submitted: datetime | None = None
    approved: datetime | None = None
    reimbursed: datetime | None = None
    approvers: list[tuple[str, datetime]] = attrs.Factory(list)
    actions: list[dict[str, Any]] = attrs.Factory(list)
    labels: set[str] = attrs.Factory(set)
    fields: dict[str, str] = attrs.Factory(dict)
    entry_id: str | None = None
    ach: bool = False
    old_report_id: str = ""
    #: A nasty answer: ``markAsExported`` silently leaves this report unlabelled.
    refuses_marks: bool = False

    @property
    def total_cents(self) -> int:
        """Sum of the expenses' amounts in the report currency."""
        return sum(e.converted_amount_cents for e in self.expenses)

    @property
    def reimbursable(self) -> bool:
        """True when at least one expense is reimbursable (else a card-only report)."""
        return any(e.spec.reimbursable for e in self.expenses)


def reference_date(report: ReportRecord) -> date:
    """The date ``startDate``/``endDate`` compare with: the later of created and submitted."""
    moment = report.created if report.submitted is None else max(report.created, report.submitted)
    return moment.astimezone(UTC).date()


@attrs.define(kw_only=True)
class FileRecord:
    """A generated export file, owned by the account that exported it."""

    name: str
    owner: str
    content: bytes
    created: datetime | None = None
    polls: int = 0


@attrs.frozen(kw_only=True)
class EmployeeUpdate:
    """One validated record of the Advanced Employee Updater feed (wire names read)."""

    email: str
    manager_email: str
    employee_id: str
    policy_id: str
    first_name: str | None = None
    last_name: str | None = None
    role: str | None = None
    is_terminated: bool = False
    approves_to: str | None = None
    approval_limit: int | None = None
    over_limit_approver: str | None = None
    additional_policy_ids: tuple[str, ...] = ()
    custom_field_1: str | None = None
    custom_field_2: str | None = None
    worker_status: str | None = None
    domain_group_id: str | None = None


class Backend:
    """The emulated server's state. See the module docstring."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.policies: dict[str, PolicyState] = {}
        self.reports: dict[str, ReportRecord] = {}
        self.files: dict[str, FileRecord] = {}
        self._report_seq = 0
        self._transaction_seq = 0
        self._entry_seq = 0
        self._rng = random.Random(_SEED)

    # ------------------------------------------------------------------ basics

    def now(self) -> datetime:
        """The emulator's clock (UTC)."""
        return _utc(self._clock(), "the emulator clock")

    def today(self) -> date:
        """Today in UTC (the Integration Server documents no time zone)."""
        return self.now().date()

    def reset(self) -> None:
        """Forget everything and restart the ID counters."""
        with self.lock:
            self.accounts.clear()
            self.policies.clear()
            self.reports.clear()
            self.files.clear()
            self._report_seq = 0
            self._transaction_seq = 0
            self._entry_seq = 0
            self._rng = random.Random(_SEED)

    def authenticate(self, partner_user_id: object, partner_user_secret: object) -> Account | None:
        """The account for a credentials pair, or ``None`` when they do not match."""
        with self.lock:
            if not isinstance(partner_user_id, str) or not isinstance(partner_user_secret, str):
                return None
            account = self.accounts.get(partner_user_id)
            if account is None or account.partner_user_secret != partner_user_secret:
                return None
            return account

    # ------------------------------------------------------------------ seeding

    def add_account(self, partner_user_id: str, partner_user_secret: str, *, email: str) -> None:
        """Register partner credentials acting as the Expensify login ``email``."""
        for name, value in (
            ("partner_user_id", partner_user_id),
            ("partner_user_secret", partner_user_secret),
            ("email", email),
        ):
            if not value.strip():
                raise ValueError(f"{name} must be a non-empty string")
        with self.lock:
            self.accounts[partner_user_id] = Account(
                partner_user_id=partner_user_id,
                partner_user_secret=partner_user_secret,
                email=email.lower(),
            )

    def add_policy(
        self,
        policy_id: str,
        name: str,
        *,
        owner: str,
        output_currency: str = "USD",
        policy_type: str = "corporate",
        approval_mode: str = "submit_and_approve",
        categories: Iterable[Category] = (),
        tag_levels: Iterable[TagLevel] = (),
        report_fields: Iterable[ReportField] = (),
        employees: Iterable[Employee] = (),
    ) -> None:
        """Create (or replace) a policy. The owner is an admin member."""
        if not re.fullmatch(r"[A-Za-z0-9_-]+", policy_id):
            raise ValueError(f"invalid policy ID {policy_id!r}")
        if approval_mode not in APPROVAL_MODES:
            raise ValueError(f"approval_mode must be one of {sorted(APPROVAL_MODES)}")
        state = PolicyState(
            policy_id=policy_id,
            name=name,
            owner=owner.lower(),
            output_currency=output_currency,
            type=policy_type,
            approval_mode=approval_mode,
        )
        for cat in categories:
            if not isinstance(cat, Category):
                raise TypeError("categories must be expensify_client.Category values")
            state.categories[cat.name] = cat
        for level in tag_levels:
            if not isinstance(level, TagLevel):
                raise TypeError("tag_levels must be expensify_client.TagLevel values")
            state.tag_levels.append(level)
        for field in report_fields:
            if not isinstance(field, ReportField):
                raise TypeError("report_fields must be expensify_client.ReportField values")
            state.report_fields.append(field)
        for member in employees:
            if not isinstance(member, Employee):
                raise TypeError("employees must be expensify_client.Employee values")
            state.employees[member.email.lower()] = attrs.evolve(member, email=member.email.lower())
        if state.owner not in state.employees:
            state.employees[state.owner] = Employee(email=state.owner, role="admin")
        with self.lock:
            self.policies[policy_id] = state

    def create_policy(self, account: Account, name: str, plan: str) -> str:
        """``create``/``policy``: a new policy owned by the account's login; its ID."""
        while True:
            policy_id = f"{self._rng.getrandbits(64):016X}"
            if policy_id not in self.policies:
                break
        self.add_policy(policy_id, name, owner=account.email, policy_type=plan)
        return policy_id

    def _next_report_id(self) -> str:
        while True:
            self._report_seq += 1
            report_id = "R" + _base62(238_328 * 62 + self._report_seq, 11)
            if report_id not in self.reports:
                return report_id

    def _next_transaction_id(self) -> str:
        self._transaction_seq += 1
        return str(4_000_000_000_000_000_000 + self._transaction_seq)

    def _convert(self, spec: ExpenseSpec, currency: str) -> tuple[int, Decimal]:
        amount = spec.effective_amount_cents
        if spec.converted_amount_cents is not None:
            rate = spec.currency_conversion_rate
            if rate is None:
                rate = (
                    Decimal(1)
                    if amount == 0
                    else Decimal(spec.converted_amount_cents) / Decimal(amount)
                )
            return spec.converted_amount_cents, rate
        if spec.currency == currency:
            return amount, spec.currency_conversion_rate or Decimal(1)
        if spec.currency_conversion_rate is None:
            raise ValueError(
                f"expense in {spec.currency} on a {currency} report needs "
                "converted_amount_cents or currency_conversion_rate"
            )
        converted = (Decimal(amount) * spec.currency_conversion_rate).quantize(
            Decimal(1), rounding=ROUND_HALF_EVEN
        )
        return int(converted), spec.currency_conversion_rate

    def add_report(
        self,
        policy_id: str,
        *,
        submitter: str,
        name: str,
        currency: str,
        expenses: Sequence[ExpenseSpec],
        created: datetime,
        report_id: str | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> str:
        """Create an OPEN report in ``policy_id``; returns its ID (generated when ``None``)."""
        created = _utc(created, "created")
        with self.lock:
            if policy_id not in self.policies:
                raise EmulatorStateError(f"unknown policy {policy_id!r}")
            if report_id is None:
                report_id = self._next_report_id()
            elif report_id in self.reports:
                raise EmulatorStateError(f"report {report_id!r} already exists")
            elif not re.fullmatch(r"[A-Za-z0-9_-]+", report_id):
                raise ValueError(f"invalid report ID {report_id!r}")
            records: list[ExpenseRecord] = []
            for spec in expenses:
                if not isinstance(spec, ExpenseSpec):
                    raise TypeError("expenses must be ExpenseSpec values")
                converted, rate = self._convert(spec, currency)
                records.append(
                    ExpenseRecord(
                        transaction_id=spec.transaction_id or self._next_transaction_id(),
                        spec=spec,
                        converted_amount_cents=converted,
                        conversion_rate=rate,
                        inserted=_utc(spec.inserted, "inserted") if spec.inserted else created,
                    )
                )
            report = ReportRecord(
                report_id=report_id,
                policy_id=policy_id,
                submitter=submitter.lower(),
                name=name,
                currency=currency,
                created=created,
                expenses=records,
                fields=dict(fields or {}),
                old_report_id=str(50_000_000 + len(self.reports) + 1),
            )
            self._act(report, "CREATED", submitter, created)
            self.reports[report_id] = report
            return report_id

    def _act(self, report: ReportRecord, action: str, who: str, at: datetime) -> None:
        report.actions.append(
            {"action": action, "accountEmail": who.lower(), "created": _fmt(at), "details": {}}
        )

    def find_report(self, report_id: str) -> ReportRecord | None:
        """A report by its ID or by its numeric ``oldReportID`` (both forms are accepted)."""
        report = self.reports.get(report_id)
        if report is not None:
            return report
        return next((r for r in self.reports.values() if r.old_report_id == report_id), None)

    def _report(self, report_id: str) -> ReportRecord:
        try:
            return self.reports[report_id]
        except KeyError:
            raise EmulatorStateError(f"unknown report {report_id!r}") from None

    def _transition(
        self, report_id: str, allowed: tuple[ReportState, ...], verb: str
    ) -> ReportRecord:
        report = self._report(report_id)
        if report.state not in allowed:
            raise EmulatorStateError(
                f"cannot {verb} report {report_id} in state {report.state.value}"
            )
        return report

    def submit(self, report_id: str, at: datetime) -> None:
        """OPEN -> SUBMITTED (website: Processing)."""
        at = _utc(at, "at")
        with self.lock:
            report = self._transition(report_id, (ReportState.OPEN,), "submit")
            report.state = ReportState.SUBMITTED
            report.submitted = at
            self._act(report, "SUBMITTED", report.submitter, at)
            if self.policies[report.policy_id].approval_mode == "submit_and_close":
                # "Submit and Close": no approval step, the report is final (Closed) at once.
                report.state = ReportState.ARCHIVED
                self._act(report, "CLOSED", report.submitter, at)

    def approve(self, report_id: str, at: datetime, by: str | None = None) -> None:
        """SUBMITTED -> APPROVED; ``by`` defaults to the submitter's ``submitsTo``."""
        at = _utc(at, "at")
        with self.lock:
            report = self._transition(report_id, (ReportState.SUBMITTED,), "approve")
            approver = (by or self._current_approver(report) or "").lower()
            report.state = ReportState.APPROVED
            report.approved = at
            report.approvers.append((approver, at))
            self._act(report, "APPROVED", approver, at)

    def reimburse(self, report_id: str, at: datetime, *, ach: bool = False) -> None:
        """APPROVED -> REIMBURSED (a new reimbursement ``entryID``)."""
        at = _utc(at, "at")
        with self.lock:
            report = self._transition(report_id, (ReportState.APPROVED,), "reimburse")
            if not report.reimbursable:
                raise EmulatorStateError(
                    f"cannot reimburse report {report_id}: it has no reimbursable expense "
                    "(a card-only report is final at APPROVED)"
                )
            self._reimburse(report, at, ach=ach)

    def _reimburse(self, report: ReportRecord, at: datetime, *, ach: bool = False) -> None:
        self._entry_seq += 1
        report.state = ReportState.REIMBURSED
        report.reimbursed = at
        report.ach = ach
        report.entry_id = str(900_000 + self._entry_seq)
        owner = self.policies[report.policy_id].owner
        self._act(report, "REIMBURSED", owner, at)

    def reject(self, report_id: str, at: datetime) -> None:
        """SUBMITTED or APPROVED -> OPEN (submission and approval are cleared)."""
        at = _utc(at, "at")
        with self.lock:
            report = self._transition(
                report_id, (ReportState.SUBMITTED, ReportState.APPROVED), "reject"
            )
            self._reopen(report, at, "REJECTED")

    def reopen(self, report_id: str, at: datetime) -> None:
        """Any state but OPEN -> OPEN (an admin un-approves / un-reimburses a report)."""
        at = _utc(at, "at")
        with self.lock:
            report = self._transition(
                report_id,
                (
                    ReportState.SUBMITTED,
                    ReportState.APPROVED,
                    ReportState.REIMBURSED,
                    ReportState.ARCHIVED,
                ),
                "reopen",
            )
            self._reopen(report, at, "REOPENED")

    def _reopen(self, report: ReportRecord, at: datetime, action: str) -> None:
        report.state = ReportState.OPEN
        report.submitted = report.approved = report.reimbursed = None
        report.approvers.clear()
        report.entry_id = None
        self._act(report, action, self.policies[report.policy_id].owner, at)

    def archive(self, report_id: str, at: datetime) -> None:
        """APPROVED or REIMBURSED -> ARCHIVED (website: Closed)."""
        at = _utc(at, "at")
        with self.lock:
            report = self._transition(
                report_id, (ReportState.APPROVED, ReportState.REIMBURSED), "archive"
            )
            report.state = ReportState.ARCHIVED
            self._act(report, "CLOSED", self.policies[report.policy_id].owner, at)

    def mark_exported(self, report_id: str, label: str) -> None:
        """Put an export label on a report (as a past ``markAsExported`` would have)."""
        if not label.strip():
            raise ValueError("label must be non-empty")
        with self.lock:
            self._report(report_id).labels.add(label)

    def refuse_marks(self, report_id: str, refuse: bool = True) -> None:
        """Make later ``markAsExported`` actions silently skip this report (or stop that)."""
        with self.lock:
            self._report(report_id).refuses_marks = refuse

    def _current_approver(self, report: ReportRecord) -> str | None:
        policy = self.policies[report.policy_id]
        member = policy.employees.get(report.submitter)
        if member is not None and member.submits_to:
            return member.submits_to.lower()
        return policy.owner

    # ------------------------------------------------------------------ visibility

    def admin_policies(self, account: Account) -> list[PolicyState]:
        """Policies where the account's login is an admin (or the owner)."""
        return [p for p in self.policies.values() if p.role_of(account.email) == "admin"]

    def member_policies(self, account: Account) -> list[PolicyState]:
        """Policies where the account's login is a member (any role) or the owner."""
        return [p for p in self.policies.values() if p.role_of(account.email) is not None]

    def visible_reports(self, account: Account) -> list[ReportRecord]:
        """The account's own reports and every report of policies it administers."""
        admin = {p.policy_id for p in self.admin_policies(account)}
        return [
            r for r in self.reports.values() if r.submitter == account.email or r.policy_id in admin
        ]

    # ------------------------------------------------------------------ exports

    def select_reports(
        self,
        account: Account,
        *,
        report_ids: Sequence[str] | None,
        policy_ids: Sequence[str] | None,
        start: date | None,
        end: date | None,
        approved_after: date | None,
        label: str | None,
        states: Sequence[ReportState],
        limit: int | None,
        employee_email: str | None,
    ) -> list[ReportRecord]:
        """Apply the export filters (all of them, ANDed); oldest reference date first."""
        chosen: list[ReportRecord] = []
        for report in self.visible_reports(account):
            if report_ids is not None and not (
                report.report_id in report_ids or report.old_report_id in report_ids
            ):
                continue
            if policy_ids is not None and report.policy_id not in policy_ids:
                continue
            if report.state not in states:
                continue
            if employee_email is not None and (
                report.submitter != employee_email.lower() or report.state is ReportState.OPEN
            ):
                continue
            ref = reference_date(report)
            if start is not None and ref < start:
                continue
            if end is not None and ref > end:
                continue
            if approved_after is not None and (
                report.approved is None or report.approved.astimezone(UTC).date() <= approved_after
            ):
                continue
            if label is not None and label in report.labels:
                continue
            chosen.append(report)
        chosen.sort(key=lambda r: (reference_date(r), r.created, r.report_id))
        return chosen if limit is None else chosen[:limit]

    def new_file_name(self, basename: str, extension: str) -> str:
        """``basename`` + a (seeded) UUID + ``.`` + ``extension``."""
        token = uuid.UUID(int=self._rng.getrandbits(128), version=4)
        return f"{basename}{token}.{extension}"

    # ------------------------------------------------------------------ data model

    def report_model(
        self,
        report: ReportRecord,
        *,
        unmodified_values: str = "missing",
        modified_flag: bool = True,
    ) -> dict[str, Any]:
        """The FreeMarker data model of one report (expensify-api.md sections 3.2/3.3).

        ``unmodified_values``: what an expense that was never edited carries in
        ``modifiedAmount``/``modifiedMerchant``/``modifiedCreated`` -- ``"missing"`` (null)
        or ``"zero"`` (``0``, ``""``, ``""``, as the reconciliation model documents
        "0 if unmodified"). ``modified_flag``: include the boolean ``modified``.
        """
        policy = self.policies[report.policy_id]
        submitter = policy.employees.get(report.submitter)
        manager = report.approvers[-1][0] if report.approvers else self._current_approver(report)
        manager_member = policy.employees.get(manager or "")
        custom = {custom_field_key(k): v for k, v in report.fields.items()}
        return {
            "reportID": report.report_id,
            "oldReportID": report.old_report_id,
            "reportName": report.name,
            "status": STATUS_NAMES[report.state],
            "state": report.state.value,
            "policyID": policy.policy_id,
            "policyName": policy.name,
            "currency": report.currency,
            "total": report.total_cents,
            "accountEmail": report.submitter,
            "managerEmail": manager,
            "created": _fmt(report.created),
            "submitted": _fmt(report.submitted),
            "approved": _fmt(report.approved),
            "reimbursed": _fmt(report.reimbursed),
            "customField": custom,
            "submitter": _names(submitter, report.submitter),
            "manager": _names(manager_member, manager or ""),
            "submitterUserID": None if submitter is None else submitter.employee_id,
            "employeeCustomField1": None if submitter is None else submitter.custom_field_1,
            "employeeCustomField2": None if submitter is None else submitter.custom_field_2,
            "approvers": [{"email": email, "date": _fmt(at)} for email, at in report.approvers],
            "actionList": [dict(a) for a in report.actions],
            "isACHReimbursed": report.ach,
            "entryID": report.entry_id,
            "transactionList": [
                self._expense_model(
                    report,
                    policy,
                    e,
                    unmodified_values=unmodified_values,
                    modified_flag=modified_flag,
                )
                for e in report.expenses
            ],
        }

    def _expense_model(
        self,
        report: ReportRecord,
        policy: PolicyState,
        expense: ExpenseRecord,
        *,
        unmodified_values: str,
        modified_flag: bool,
    ) -> dict[str, Any]:
        spec = expense.spec
        cat = policy.categories.get(spec.category) if spec.category else None
        model: dict[str, Any] = {
            "transactionID": expense.transaction_id,
            "reportID": report.report_id,
            "type": "expense",
            "amount": spec.amount_cents,
            "modifiedAmount": spec.modified_amount_cents,
            "convertedAmount": expense.converted_amount_cents,
            "currency": spec.currency,
            "currencyConversionRate": expense.conversion_rate,
            "merchant": spec.merchant,
            "modifiedMerchant": spec.modified_merchant,
            "created": spec.created.isoformat(),
            "modifiedCreated": None
            if spec.modified_created is None
            else spec.modified_created.isoformat(),
            "inserted": _fmt(expense.inserted),
            "category": spec.category,
            "categoryGlCode": None if cat is None else cat.gl_code,
            "categoryPayrollCode": None if cat is None else cat.payroll_code,
            "tag": ":".join(spec.tags) if spec.tags else None,
            "tagGlCode": None,
            "comment": spec.comment,
            "reimbursable": spec.reimbursable,
            "billable": spec.billable,
            "hasTax": spec.has_tax,
            "taxAmount": spec.tax_amount_cents,
            "taxName": spec.tax_name,
            "taxRate": spec.tax_rate,
            "taxCode": spec.tax_code,
            "mcc": spec.mcc,
            "bank": spec.bank,
            "cardID": spec.card_id,
            "cardNumber": spec.card_number,
            "externalID": spec.external_id,
            "receiptObject": {"url": spec.receipt_url} if spec.receipt_url else {},
            "attendees": [
                {"email": a.email, "displayName": a.display_name} for a in spec.attendees
            ],
        }
        if unmodified_values == "zero":
            for key, blank in (
                ("modifiedAmount", 0),
                ("modifiedMerchant", ""),
                ("modifiedCreated", ""),
            ):
                if model[key] is None:
                    model[key] = blank
        if modified_flag:
            model["modified"] = (
                spec.modified_amount_cents is not None
                or spec.modified_merchant is not None
                or spec.modified_created is not None
            )
        codes: list[str] = []
        for index, name in enumerate(spec.tags, start=1):
            gl = _tag_gl(policy, index, name)
            model[f"ntag{index}"] = name
            model[f"ntag{index}GlCode"] = gl
            if gl:
                codes.append(gl)
        if spec.tags:
            model["tagGlCode"] = ":".join(codes) if len(codes) == len(spec.tags) else None
        return model

    def report_view(self, report_id: str) -> dict[str, Any]:
        """Inspect a report: its data model plus ``exportedLabels`` (a sorted list)."""
        with self.lock:
            report = self._report(report_id)
            view = self.report_model(report)
            view["exportedLabels"] = sorted(report.labels)
            return view

    # ------------------------------------------------------------------ policy getters

    def policy_info(
        self,
        policy: PolicyState,
        fields: Iterable[str],
        *,
        category_gl_codes: bool = True,
        flat_tags: bool = False,
        forward_keys: str = "getter",
        report_field_value_objects: bool = False,
    ) -> dict[str, Any]:
        """The getter's ``policyInfo`` entry with only the requested sections.

        ``category_gl_codes=False`` answers categories in the documented shape
        (``name``, ``enabled``, ``areCommentsRequired``: no ``glCode``/``payrollCode``).
        ``flat_tags=True`` answers tags as the documented flat list whose multi-level
        names are joined with ``:``. ``forward_keys`` names the employees' forward-to
        keys: ``getter`` (``forwardsTo``/``overLimitForwardsTo``) or ``updater``
        (``approvesTo``/``overLimitApprover``). ``report_field_value_objects=True`` answers
        dropdown values as ``{"value": ..., "enabled": true}`` objects instead of strings.
        """
        info: dict[str, Any] = {}
        for section in fields:
            if section == "categories":
                info["categories"] = [
                    _category_wire(c, gl_codes=category_gl_codes)
                    for c in policy.categories.values()
                ]
            elif section == "tags":
                info["tags"] = (
                    _flat_tags(policy.tag_levels)
                    if flat_tags
                    else [
                        {
                            "name": level.name,
                            "required": level.required,
                            "tags": [_tag_wire(t) for t in level.tags],
                        }
                        for level in policy.tag_levels
                    ]
                )
            elif section == "reportFields":
                info["reportFields"] = [
                    _report_field_wire(f, value_objects=report_field_value_objects)
                    for f in policy.report_fields
                ]
            elif section == "employees":
                info["employees"] = [
                    _employee_wire(e, forward_keys=forward_keys) for e in policy.employees.values()
                ]
            elif section == "tax":
                info["tax"] = {}
        return info

    def policy_view(self, policy_id: str) -> dict[str, Any]:
        """Inspect a policy: every section in the getter's wire shape, plus name/owner."""
        with self.lock:
            policy = self.policies.get(policy_id)
            if policy is None:
                raise EmulatorStateError(f"unknown policy {policy_id!r}")
            view = self.policy_info(
                policy,
                ("categories", "tags", "reportFields", "employees", "tax"),
                forward_keys="updater",
            )
            view.update(
                id=policy.policy_id,
                name=policy.name,
                owner=policy.owner,
                outputCurrency=policy.output_currency,
                type=policy.type,
                approvalMode=policy.approval_mode,
                tagApprovers=dict(policy.tag_approvers),
            )
            return view

    # ------------------------------------------------------------------ employee updater

    def update_employees(
        self,
        account: Account,
        records: Sequence[EmployeeUpdate],
        *,
        dry_run: bool,
        fix_approval_chains: bool,
    ) -> dict[str, Any]:
        """Apply a validated feed; returns the updater's answer fields (without code)."""
        work = {pid: p.copy() for pid, p in self.policies.items()}
        admin = {p.policy_id for p in self.admin_policies(account)}
        to_add: dict[str, list[str]] = {}
        to_remove: dict[str, list[str]] = {}
        skipped: list[dict[str, str]] = []
        updated: set[str] = set()
        on_leave = {
            r.email: r.manager_email for r in records if (r.worker_status or "") == "On Leave"
        }

        def resolve(manager: str) -> str:
            seen: set[str] = set()
            while manager in on_leave and manager not in seen:
                seen.add(manager)
                manager = on_leave[manager]
            return manager

        for record in records:
            targets = (record.policy_id, *record.additional_policy_ids)
            unknown = next((pid for pid in targets if pid not in admin), None)
            if unknown is not None:
                skipped.append(
                    {"email": record.email, "reason": f"No policy found for '{unknown}'"}
                )
                continue
            manager = resolve(record.manager_email)
            problem = self._chain_problem(work, record, manager, targets, fix_approval_chains)
            if problem is not None:
                skipped.append({"email": record.email, "reason": problem})
                continue
            if record.is_terminated:
                policy = work[record.policy_id]
                if record.email in policy.employees:
                    del policy.employees[record.email]
                    to_remove.setdefault(record.policy_id, []).append(record.email)
                    updated.add(record.email)
                continue
            for pid in targets:
                policy = work[pid]
                changed = self._upsert(policy, record, manager)
                if changed == "added":
                    to_add.setdefault(pid, []).append(record.email)
                if changed:
                    updated.add(record.email)
                if fix_approval_chains:
                    for chain in (manager, record.approves_to, record.over_limit_approver):
                        if chain and policy.role_of(chain) is None:
                            policy.employees[chain] = Employee(email=chain, role="user")
                            to_add.setdefault(pid, []).append(chain)
        groups: dict[str, list[str]] = {}
        if records and all(r.domain_group_id for r in records):
            for r in records:
                groups.setdefault(str(r.domain_group_id), []).append(r.email)
        if not dry_run:
            self.policies.update(work)
        return {
            "dry-run": dry_run,
            "updatedEmployeesCount": len(updated),
            "diff": {"diffToAdd": to_add, "diffToRemove": to_remove},
            "securityGroupEmployeesMap": groups,
            "skippedEmployees": skipped,
        }

    def _chain_problem(
        self,
        work: Mapping[str, PolicyState],
        record: EmployeeUpdate,
        manager: str,
        targets: Sequence[str],
        fix_approval_chains: bool,
    ) -> str | None:
        if record.approves_to == record.email:
            return f"Invalid approvesTo email address '{record.approves_to}'"
        for pid in targets:
            policy = work[pid]
            if record.role is not None and record.email == policy.owner and record.role != "admin":
                return f"Cannot change the role of the policy owner '{record.email}'"
            if fix_approval_chains or record.is_terminated:
                continue
            for chain in (manager, record.approves_to, record.over_limit_approver):
                if chain and chain != record.email and policy.role_of(chain) is None:
                    return f"Approver '{chain}' is not a member of policy '{pid}'"
        return None

    def _upsert(self, policy: PolicyState, record: EmployeeUpdate, manager: str) -> str:
        current = policy.employees.get(record.email)
        values: dict[str, Any] = {
            "submits_to": manager,
            "employee_id": record.employee_id,
            "custom_field_1": record.custom_field_1 or record.employee_id,
        }
        optional = {
            "approves_to": record.approves_to,
            "custom_field_2": record.custom_field_2,
            "approval_limit_cents": record.approval_limit,
            "over_limit_approver": record.over_limit_approver,
        }
        values.update({k: v for k, v in optional.items() if v is not None})
        if record.role is not None and record.email != policy.owner:
            values["role"] = record.role
        if current is None:
            values.setdefault("role", "user")
            policy.employees[record.email] = Employee(
                email=record.email,
                first_name=record.first_name,
                last_name=record.last_name,
                **values,
            )
            return "added"
        # Names are never overridden once set (the user may have chosen them).
        if current.first_name is None and record.first_name is not None:
            values["first_name"] = record.first_name
        if current.last_name is None and record.last_name is not None:
            values["last_name"] = record.last_name
        changed = attrs.evolve(current, **values)
        if changed == current:
            return ""
        policy.employees[record.email] = changed
        return "updated"

    # ------------------------------------------------------------------ report status

    def reimburse_reports(
        self, account: Account, selected: Sequence[str | ReportRecord], *, at: datetime
    ) -> dict[str, Any]:
        """Approved -> Reimbursed for each report; others skipped with the server's reason."""
        admin = {p.policy_id for p in self.admin_policies(account)}
        done: list[str] = []
        skipped: list[dict[str, str]] = []
        for item in selected:
            report = self.find_report(item) if isinstance(item, str) else item
            report_id = item if isinstance(item, str) else item.report_id
            if report is None or report.policy_id not in admin:
                skipped.append({"reportID": report_id, "reason": "Report not found"})
            elif report.state is ReportState.APPROVED and not report.reimbursable:
                skipped.append({"reportID": report_id, "reason": NOT_REIMBURSABLE})
            elif report.state is not ReportState.APPROVED:
                skipped.append(
                    {
                        "reportID": report_id,
                        "reason": f"Report is in status '{STATUS_NAMES[report.state]}'",
                    }
                )
            else:
                self._reimburse(report, at)
                done.append(report_id)
        answer: dict[str, Any] = {"reportIDs": done}
        if skipped:
            answer["skippedReports"] = skipped
        return answer


def _names(member: Employee | None, email: str) -> dict[str, Any]:
    first = None if member is None else member.first_name
    last = None if member is None else member.last_name
    full = " ".join(part for part in (first, last) if part) or None
    return {"email": email, "firstName": first, "lastName": last, "fullName": full}


def _tag_gl(policy: PolicyState, level: int, name: str) -> str | None:
    if level > len(policy.tag_levels):
        return None
    tag = next((t for t in policy.tag_levels[level - 1].tags if t.name == name), None)
    return None if tag is None else tag.gl_code


def _category_wire(cat: Category, *, gl_codes: bool = True) -> dict[str, Any]:
    wire: dict[str, Any] = {"name": cat.name, "enabled": cat.enabled}
    if not gl_codes:
        # The documented getter shape: name, enabled, areCommentsRequired.
        wire["areCommentsRequired"] = bool(cat.are_comments_required)
        return wire
    optional = (
        ("glCode", cat.gl_code),
        ("payrollCode", cat.payroll_code),
        ("areCommentsRequired", cat.are_comments_required),
        ("commentHint", cat.comment_hint),
        ("maxExpenseAmount", cat.max_expense_amount_cents),
    )
    wire.update((k, v) for k, v in optional if v is not None)
    return wire


def _tag_wire(tag: Tag) -> dict[str, Any]:
    wire: dict[str, Any] = {"name": tag.name, "enabled": tag.enabled}
    if tag.gl_code is not None:
        wire["glCode"] = tag.gl_code
    return wire


def _flat_tags(levels: Sequence[TagLevel]) -> list[dict[str, Any]]:
    """The documented flat tag list: level-1 names, then ``parent:child`` paths per level.

    As in the official getter sample (``"Enterprise"``, ``"Enterprise:William Riker"``),
    each entry carries ``glCode`` (``""`` when none) and ``enabled``.
    """
    out: list[dict[str, Any]] = []
    paths: list[tuple[str, ...]] = [()]
    for level in levels:
        paths = [(*p, t.name) for p in paths for t in level.tags]
        by_name = {t.name: t for t in level.tags}
        for path in paths:
            tag = by_name[path[-1]]
            out.append(
                {"name": ":".join(path), "enabled": tag.enabled, "glCode": tag.gl_code or ""}
            )
    return out


def _report_field_wire(field: ReportField, *, value_objects: bool = False) -> dict[str, Any]:
    values: list[Any] = (
        [{"value": v, "enabled": True} for v in field.values]
        if value_objects
        else list(field.values)
    )
    wire: dict[str, Any] = {"name": field.name, "type": field.type, "values": values}
    if field.default_value is not None:
        wire["defaultValue"] = field.default_value
    return wire


def _employee_wire(member: Employee, *, forward_keys: str = "getter") -> dict[str, Any]:
    wire: dict[str, Any] = {"email": member.email, "role": member.role}
    getter = forward_keys == "getter"
    optional = (
        ("submitsTo", member.submits_to),
        ("forwardsTo" if getter else "approvesTo", member.approves_to),
        ("employeeID", member.employee_id),
        ("firstName", member.first_name),
        ("lastName", member.last_name),
        ("customField1", member.custom_field_1),
        ("customField2", member.custom_field_2),
        ("approvalLimit", member.approval_limit_cents),
        ("overLimitForwardsTo" if getter else "overLimitApprover", member.over_limit_approver),
    )
    wire.update((k, v) for k, v in optional if v is not None)
    return wire
