"""The pure core of the bridge: an Expensify report becomes Acumatica documents.

Nothing here reads a clock, a setting, a file or the network, and nothing logs: the
report, the policy, a :class:`~expense_bridge.LedgerCatalog` snapshot, the
:class:`~expense_bridge.PostingRules` and the sync's ``posting_date`` go in; frozen
:class:`PlannedDocument` values (or one :class:`~expense_bridge.MappingError` listing
*every* problem of the report) come out. The same input always gives an equal output.

How a report is split and posted
--------------------------------
* Expenses are partitioned by ``reimbursable``: reimbursable ones form the
  ``REIMBURSABLE`` part (target ``rules.reimbursable_target``), the others the ``CARD``
  part (target ``rules.card_target``; ``SKIP`` plans no document for them and does not
  check them at all). Each part with at least one expense becomes one document keyed
  ``EXB-<reportID>`` / ``EXB-<reportID>-C`` (see :mod:`expense_bridge._keys`). A report
  whose expenses are all skipped card spend plans no document (an empty tuple).
* Lines keep the order of ``report.expenses`` (the export's transaction order).

Amounts
-------
* Every line is in the report currency. An expense in the report currency uses its
  effective amount (edited, else original); a foreign one its ``converted_amount_cents``
  (absent: ``CONVERSION_MISSING``). Cents become ``Decimal`` through
  :func:`expensify_client.cents_to_decimal` in the report currency, so JPY lines have no
  decimals and an impossible fraction is ``CURRENCY_PRECISION``. Never ``float``.
* Refunds and credits (negative amounts) stay negative lines. A bill whose net total is
  negative becomes a ``"Debit Adj."`` document with every line's sign flipped (the vendor
  owes us); a journal puts refund lines on the credit side.
* Bill lines carry ``Qty = 1``, ``UnitCost`` and ``ExtendedCost`` equal to the amount.
  ``Amount`` (the line total after discounts) is calculated by Acumatica and is not sent,
  nor is the header ``Amount``. Decision, the reference does not settle which field the
  server takes; sending the inputs and not the computed values is the safe choice.
* A journal debits each expense's account and credits the part's liability account
  (employee liability for ``REIMBURSABLE``, card liability for ``CARD``) with ONE line for
  the part's net total, so debits equal credits exactly. A negative net puts that line on
  the debit side. Every journal line's ``ReferenceNbr`` is the document key.
* :attr:`PlannedDocument.total` is the part's signed net in the report currency (positive
  for spend, negative for a net refund), i.e. the sum of the part's expense lines.

Accounts and dimensions
-----------------------
* The line account is the expense's ``categoryGlCode`` as exported (the documented source:
  the policy getter's documented category shape has no GL code). Where the getter does
  give the category a GL code, it is used when the export has none, or first when
  ``rules.prefer_policy_gl_code`` is set. Neither: ``CATEGORY_NO_GL_CODE``. Unknown category:
  ``CATEGORY_UNKNOWN``; no GL code: ``CATEGORY_NO_GL_CODE``; code not an active account of
  the catalog: ``GL_ACCOUNT_INACTIVE``. A disabled category still maps (the expense was
  approved with it).
* Tags feed line fields through ``rules.tag_map``: the mapping's explicit ``values`` table
  first, else the tag's GL code (``use_gl_code``) or its name. The first mapping of a field
  (in ``tag_map`` order) wins. A tag on a level without a mapping is ignored unless the
  policy marks that level required (``TAG_UNMAPPED``); a ``required`` mapping whose level
  the expense lacks is ``TAG_MISSING``; a resolved value missing from the catalog (project,
  project task of the line's project, branch, subaccount, cost code when the catalog
  lists them) or a ``use_gl_code`` tag without a GL code is ``TAG_VALUE_UNKNOWN``.
* ``rules.default_branch`` / ``rules.default_subaccount`` fill lines without a tag-supplied
  branch / subaccount (and the header ``BranchID``); a default missing from the catalog is
  ``DEFAULT_VALUE_UNKNOWN``.
* Reimbursable bills go to ``catalog.vendor_by_email[report.account_email.lower()]``
  (``SUBMITTER_NO_VENDOR``). Card bills go to ``rules.card_vendor``; journals credit
  ``rules.employee_liability_account`` / ``rules.card_liability_account``. A missing or
  unknown target is ``REIMBURSABLE_TARGET_INCOMPLETE`` / ``CARD_TARGET_INCOMPLETE``; an
  inactive liability account is ``GL_ACCOUNT_INACTIVE``.

Currency and dates
------------------
* The report currency must be an ISO 4217 code (three upper-case letters whose ISO
  precision ``expensify_client`` knows) and, when ``catalog.currencies`` is given, one of
  them: else ``CURRENCY_UNSUPPORTED`` (and no amount is checked further).
* The document date follows ``rules.date_rule``. Timestamps are converted to
  ``rules.timezone`` (an IANA zone; unknown: ``RULES_INVALID``) before their date is
  taken. ``APPROVED`` falls back to the submitted time when the export has no approval
  time (decision: approval follows submission, and a report that satisfied the trigger
  was approved; the submitted date is the closest recorded event); ``SUBMITTED`` has no
  fallback; either missing is ``DATE_MISSING``. ``LAST_EXPENSE`` is the latest effective
  expense date of the whole report; ``POSTING`` is ``posting_date``.
* An empty report is ``REPORT_EMPTY``; a report ID that cannot form a key is
  ``REPORT_ID_INVALID``.

Text
----
Bill ``Description`` is the report name and line ``TransactionDescription`` is
``"<merchant> - <comment>"``, whitespace collapsed and cut to
:data:`~expense_bridge._keys.DESCRIPTION_MAX_LENGTH`; a journal's ``Description`` is
:func:`~expense_bridge._keys.journal_description`.

Fingerprint
-----------
:func:`content_fingerprint` hashes what would change the posting: report ID, name,
currency, total, policy, submitter, submitted/approved times and, per expense (sorted by
transaction ID, so a re-ordered export is the same content), amounts, currencies, date,
merchant, comment, category, tags and the reimbursable/billable flags. Status changes
(approved -> reimbursed) do not change it. Every planned document of a report carries the
report's fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from acumatica_client import (
    UNSET,
    Bill,
    BillDetail,
    ExpenseClaim,
    JournalTransaction,
    JournalTransactionDetail,
)
from expensify_client import (
    CurrencyPrecisionError,
    DataError,
    Expense,
    Policy,
    Report,
    report_field_key,
)
from expensify_client._cents import cents_to_decimal, minor_units

from ._catalog import LedgerCatalog
from ._errors import ErrorCode, MappingError, Problem
from ._keys import (
    DESCRIPTION_MAX_LENGTH,
    DocumentKind,
    DocumentPart,
    clean_text,
    document_key,
    journal_description,
)
from ._rules import (
    AcumaticaField,
    CardTarget,
    DateRule,
    PostIn,
    PostingRules,
    ReimbursableTarget,
)

__all__ = [
    "BILL_TYPE",
    "DEBIT_ADJUSTMENT_TYPE",
    "HEADER_FIELDS",
    "PlannedDocument",
    "content_fingerprint",
    "conversion_rates",
    "plan_report",
    "report_to_bill",
    "report_to_journal",
]

BILL_TYPE = "Bill"
DEBIT_ADJUSTMENT_TYPE = "Debit Adj."
#: The header fields a report field can fill (``rules.report_fields``), per document kind:
#: contract field name -> model attribute (both published schemas have them).
HEADER_FIELDS: dict[DocumentKind, dict[str, str]] = {
    DocumentKind.BILL: {
        "BranchID": "branch_id",
        "Project": "project",
        "Description": "description",
        "LocationID": "location_id",
        "Terms": "terms",
    },
    DocumentKind.JOURNAL: {"BranchID": "branch_id", "Description": "description"},
}
_ISO_CODE = re.compile(r"[A-Z]{3}")


@attrs.frozen(kw_only=True)
class PlannedDocument:
    """One Acumatica document the bridge means to create for one part of a report.

    ``total`` is the part's signed net in ``currency`` (the report currency); the document
    itself may show it with the opposite sign (a Debit Adj.).
    """

    report_id: str
    part: DocumentPart
    kind: DocumentKind
    key: str
    document: Bill | JournalTransaction | ExpenseClaim  # a claim: see _claims.plan_with_claims
    total: Decimal
    currency: str
    fingerprint: str
    #: For each detail line of ``document``, in order, the transaction IDs of the
    #: expenses it carries (``()``: a credit or tax line). Receipts go on these lines.
    line_transactions: tuple[tuple[str, ...], ...] = attrs.field(default=(), eq=False)


# ------------------------------------------------------------------------ internals


@attrs.frozen(kw_only=True)
class _Line:
    """One expense resolved into ledger terms (amount in the report currency)."""

    amount: Decimal
    account: str
    subaccount: str | None
    branch: str | None
    project: str | None
    project_task: str | None
    cost_code: str | None
    description: str
    billable: bool
    route: str | None = None  # the card's own vendor / liability account (card_accounts)


@attrs.define
class _Problems:
    items: list[Problem] = attrs.field(factory=list)

    def add(
        self,
        code: ErrorCode,
        field: str,
        message: str,
        fix: str,
        transaction_id: str | None = None,
    ) -> None:
        self.items.append(
            Problem(code=code, field=field, message=message, fix=fix, transaction_id=transaction_id)
        )


def _target_kind(part: DocumentPart, rules: PostingRules) -> DocumentKind | None:
    if part is DocumentPart.REIMBURSABLE:
        if rules.reimbursable_target is not ReimbursableTarget.JOURNAL:
            return DocumentKind.BILL  # an expense claim is planned as a bill first (_claims)
        return DocumentKind.JOURNAL
    if rules.card_target is CardTarget.SKIP:
        return None
    if rules.card_target is CardTarget.AP_BILL:
        return DocumentKind.BILL
    return DocumentKind.JOURNAL


def _part_of(expense: Expense) -> DocumentPart:
    return DocumentPart.REIMBURSABLE if expense.reimbursable else DocumentPart.CARD


def _check_currency(
    report: Report, catalog: LedgerCatalog, rules: PostingRules, problems: _Problems
) -> bool:
    currency = report.currency
    known = bool(_ISO_CODE.fullmatch(currency))
    if known:
        try:
            minor_units(currency)
        except DataError:
            known = False
    if not known:
        problems.add(
            ErrorCode.CURRENCY_UNSUPPORTED,
            "currency",
            f"report currency {currency!r} is not an ISO 4217 currency code",
            "Set the policy's output currency in Expensify to an ISO 4217 currency.",
        )
        return False
    ok = True
    base = rules.base_currency
    if catalog.currencies is not None and base not in catalog.currencies:
        problems.add(
            ErrorCode.CURRENCY_UNSUPPORTED,
            "rules.base_currency",
            f"base currency {base} (rules.base_currency) is not in Acumatica's currency list",
            f"Set rules.base_currency to the company's base currency, or add {base} in "
            "Acumatica (Currencies, CM202000).",
        )
        ok = False
    if rules.post_in is PostIn.BASE and currency != base:
        problems.add(
            ErrorCode.CURRENCY_NOT_BASE,
            "currency",
            f"the report is in {currency}, but rules.post_in = 'base' posts only reports in "
            f"the base currency {base}",
            f"Set the policy's output currency to {base} in Expensify and re-export the "
            "report, or set rules.post_in = 'report'.",
        )
        return False
    if catalog.currencies is not None and currency not in catalog.currencies:
        problems.add(
            ErrorCode.CURRENCY_UNSUPPORTED,
            "currency",
            f"report currency {currency} is not set up in Acumatica",
            f"Add currency {currency} in Acumatica (Currencies, CM202000) or change the "
            "policy's output currency.",
        )
        return False
    return ok


def _zone(rules: PostingRules, problems: _Problems) -> ZoneInfo | None:
    try:
        return ZoneInfo(rules.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.add(
            ErrorCode.RULES_INVALID,
            "rules.timezone",
            f"{rules.timezone!r} is not a known IANA time zone",
            "Set rules.timezone to an IANA zone name such as 'UTC' or 'America/New_York'.",
        )
        return None


def _local_date(moment: datetime, zone: ZoneInfo) -> date:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone).date()


def _document_date(
    report: Report,
    rules: PostingRules,
    posting_date: date,
    zone: ZoneInfo | None,
    problems: _Problems,
) -> date | None:
    rule = rules.date_rule
    if rule is DateRule.POSTING:
        return posting_date
    if rule is DateRule.LAST_EXPENSE:
        dates = [e.effective_date for e in report.expenses]
        return max(dates) if dates else None  # no expenses: REPORT_EMPTY already
    if rule is DateRule.APPROVED:
        moment = report.approved if report.approved is not None else report.submitted
        field = "approved"
        fix = "Re-export the report once it shows its approval (or submission) date."
    else:
        moment = report.submitted
        field = "submitted"
        fix = "Re-export the report once it shows its submission date, or change rules.date_rule."
    if moment is None:
        problems.add(
            ErrorCode.DATE_MISSING,
            field,
            f"the report has no {field} date, which rules.date_rule={rule.value!r} needs",
            fix,
        )
        return None
    if zone is None:
        return None  # RULES_INVALID already reported
    return _local_date(moment, zone)


def _check_defaults(rules: PostingRules, catalog: LedgerCatalog, problems: _Problems) -> None:
    if rules.default_branch is not None and rules.default_branch not in catalog.branches:
        problems.add(
            ErrorCode.DEFAULT_VALUE_UNKNOWN,
            "rules.default_branch",
            f"default branch {rules.default_branch!r} is not a branch in Acumatica",
            "Set rules.default_branch to an existing Acumatica branch ID.",
        )
    if rules.default_subaccount is not None and rules.default_subaccount not in catalog.subaccounts:
        problems.add(
            ErrorCode.DEFAULT_VALUE_UNKNOWN,
            "rules.default_subaccount",
            f"default subaccount {rules.default_subaccount!r} is not an active subaccount",
            "Set rules.default_subaccount to an existing Acumatica subaccount.",
        )


def _check_account(
    catalog: LedgerCatalog, code: str, field: str, what: str, problems: _Problems, tid: str | None
) -> None:
    info = catalog.accounts.get(code)
    if info is not None and info.active:
        return
    state = "is inactive" if info is not None else "does not exist"
    problems.add(
        ErrorCode.GL_ACCOUNT_INACTIVE,
        field,
        f"GL account {code!r} ({what}) {state} in Acumatica",
        f"Activate or create account {code} in Acumatica (Chart of Accounts, GL202500), "
        f"or point {what} at an active account.",
        tid,
    )


def _resolve_target(
    report: Report,
    part: DocumentPart,
    kind: DocumentKind,
    catalog: LedgerCatalog,
    rules: PostingRules,
    problems: _Problems,
) -> str | None:
    """The bill's vendor or the journal's liability account for ``part``."""
    card = part is DocumentPart.CARD
    incomplete = (
        ErrorCode.CARD_TARGET_INCOMPLETE if card else ErrorCode.REIMBURSABLE_TARGET_INCOMPLETE
    )
    if kind is DocumentKind.BILL:
        if not card:
            vendor = catalog.vendor_for(report.account_email)
            if vendor is None:
                problems.add(
                    ErrorCode.SUBMITTER_NO_VENDOR,
                    "account_email",
                    f"submitter {report.account_email} has no Acumatica employee or vendor "
                    "with that e-mail address",
                    f"Create an Acumatica employee (or vendor) for {report.account_email}, or "
                    "set that address as the e-mail of the existing one.",
                )
            return vendor
        if not rules.card_vendor:
            problems.add(
                incomplete,
                "rules.card_vendor",
                "company-card spend is posted as AP bills but no card vendor is configured",
                "Set rules.card_vendor to the card issuer's Acumatica vendor ID, or change "
                "rules.card_target.",
            )
            return None
        if rules.card_vendor not in catalog.vendors:
            problems.add(
                incomplete,
                "rules.card_vendor",
                f"card vendor {rules.card_vendor!r} is not a vendor in Acumatica",
                "Set rules.card_vendor to an existing, active Acumatica vendor ID.",
            )
            return None
        return rules.card_vendor
    name = "card_liability_account" if card else "employee_liability_account"
    account = rules.card_liability_account if card else rules.employee_liability_account
    if not account:
        spend = "company-card" if card else "reimbursable"
        problems.add(
            incomplete,
            f"rules.{name}",
            f"{spend} spend is posted as journal transactions but rules.{name} is not set",
            f"Set rules.{name} to the GL liability account to credit.",
        )
        return None
    _check_account(catalog, account, f"rules.{name}", f"rules.{name}", problems, None)
    return account


def card_route_key(expense: Expense, rules: PostingRules) -> str | None:
    """The ``rules.card_accounts`` key that routes ``expense``'s card, if any.

    Looked up by the export's ``cardID``, then the masked ``cardNumber``, then the
    ``bank`` (card feed name): the most specific identifier wins.
    """
    for candidate in (expense.card_id, expense.card_number, expense.bank):
        if candidate and candidate in rules.card_accounts:
            return candidate
    return None


def _card_routes(
    members: Sequence[tuple[int, Expense]],
    kind: DocumentKind,
    catalog: LedgerCatalog,
    rules: PostingRules,
    problems: _Problems,
) -> dict[int, str | None]:
    """Expense index -> its card's own vendor / liability account (``None``: the default)."""
    routes: dict[int, str | None] = {}
    checked: dict[str, bool] = {}
    for i, expense in members:
        card = card_route_key(expense, rules)
        if card is None:
            routes[i] = None
            continue
        value = rules.card_accounts[card].strip()
        field = f"rules.card_accounts.{card}"
        if card not in checked:
            before = len(problems.items)
            if kind is DocumentKind.BILL:
                if value not in catalog.vendors:
                    problems.add(
                        ErrorCode.CARD_TARGET_INCOMPLETE,
                        field,
                        f"card {card!r} routes to vendor {value!r}, which is not a vendor in "
                        "Acumatica",
                        f"Set rules.card_accounts.{card} to an existing Acumatica vendor ID.",
                        expense.transaction_id,
                    )
            else:
                _check_account(catalog, value, field, field, problems, expense.transaction_id)
            checked[card] = len(problems.items) == before
        routes[i] = value if checked[card] else None
    return routes


def _report_header(
    report: Report, catalog: LedgerCatalog, rules: PostingRules, problems: _Problems
) -> dict[str, str]:
    """Header field -> value from the report fields of ``rules.report_fields``.

    A field without a value on the report is skipped (the rules' defaults apply). A
    ``BranchID`` must be a branch and a ``Project`` a project of the catalog, else
    ``REPORT_FIELD_UNKNOWN`` naming the report field.
    """
    header: dict[str, str] = {}
    for name, field in rules.report_fields.items():
        try:
            key = report_field_key(name)
        except ValueError:
            continue  # refused by the configuration validation
        value = clean_text(report.custom_fields.get(key) or "")
        if not value or field in header:
            continue
        known = {"BranchID": catalog.branches, "Project": catalog.projects}.get(field)
        if known is not None and value not in known:
            what = "branch" if field == "BranchID" else "project"
            problems.add(
                ErrorCode.REPORT_FIELD_UNKNOWN,
                f"report_fields.{key}",
                f"report field {name!r} is {value!r}, which is not a {what} in Acumatica "
                f"(it fills the document's {field})",
                f"Create {what} {value!r} in Acumatica, or correct report field {name!r} "
                "in Expensify and re-export the report.",
            )
            continue
        header[field] = value
    return header


def _with_header(
    document: Bill | JournalTransaction, kind: DocumentKind, key: str, header: dict[str, str]
) -> Bill | JournalTransaction:
    """``document`` with the report-field header values its entity has."""
    changes: dict[str, Any] = {}
    for field, value in header.items():
        attribute = HEADER_FIELDS[kind].get(field)
        if attribute is None:
            continue  # e.g. Project on a journal: the entity has no such header field
        if kind is DocumentKind.JOURNAL and field == "Description":
            value = journal_description(key, value)  # the key prefix is never replaced
        changes[attribute] = value
    return attrs.evolve(document, **changes) if changes else document


def _card_bill_vendor(
    report: Report,
    members: Sequence[tuple[int, Expense]],
    routes: dict[int, str | None],
    default: str | None,
    kind: DocumentKind,
    problems: _Problems,
) -> str | None:
    """The one vendor of a card bill (routed cards and the default); journals: ``default``.

    A bill has one vendor, so card expenses of one report routed to different vendors
    are a problem naming them (split the report by card, or route the cards alike).
    """
    if kind is not DocumentKind.BILL:
        return default
    vendors: dict[str, list[str]] = {}
    for i, expense in members:
        vendor = routes.get(i) or default
        if vendor:
            vendors.setdefault(vendor, []).append(expense.transaction_id)
    if len(vendors) <= 1:
        return next(iter(vendors), default)
    listed = "; ".join(f"{v}: {', '.join(tids)}" for v, tids in vendors.items())
    problems.add(
        ErrorCode.CARD_TARGET_INCOMPLETE,
        "rules.card_accounts",
        f"the company-card expenses of report {report.report_id} route to "
        f"{len(vendors)} vendors ({listed}); one bill has one vendor",
        "Route these cards to the same vendor in rules.card_accounts, or split the report "
        "in Expensify so each report holds one card's expenses.",
    )
    return None


def _amount(
    i: int, expense: Expense, report: Report, currency_ok: bool, problems: _Problems
) -> Decimal | None:
    tid = expense.transaction_id
    if expense.currency == report.currency:
        cents = expense.effective_amount_cents
        field = (
            "modified_amount_cents" if expense.modified_amount_cents is not None else "amount_cents"
        )
    else:
        if expense.converted_amount_cents is None:
            problems.add(
                ErrorCode.CONVERSION_MISSING,
                f"expenses[{i}].converted_amount_cents",
                f"expense in {expense.currency} has no amount converted to the report "
                f"currency {report.currency}",
                "Open the report in Expensify so the expense is converted (or enter the "
                "converted amount), then re-export it.",
                tid,
            )
            return None
        cents = expense.converted_amount_cents
        field = "converted_amount_cents"
    if not currency_ok:
        return None
    try:
        return cents_to_decimal(cents, report.currency)
    except CurrencyPrecisionError:
        problems.add(
            ErrorCode.CURRENCY_PRECISION,
            f"expenses[{i}].{field}",
            f"amount {cents} hundredths of {report.currency} has a fraction {report.currency} "
            "cannot have",
            f"Edit the expense in Expensify to a whole amount in {report.currency}.",
            tid,
        )
        return None


def _account(
    i: int,
    expense: Expense,
    policy: Policy,
    catalog: LedgerCatalog,
    problems: _Problems,
    prefer_policy: bool = False,
) -> str | None:
    tid = expense.transaction_id
    field = f"expenses[{i}].category"
    if not expense.category:
        problems.add(
            ErrorCode.CATEGORY_UNKNOWN,
            field,
            "expense has no category",
            "Categorise the expense in Expensify, then re-export the report.",
            tid,
        )
        return None
    category = next((c for c in policy.categories if c.name == expense.category), None)
    if category is None:
        problems.add(
            ErrorCode.CATEGORY_UNKNOWN,
            field,
            f"category {expense.category!r} is not a category of policy {policy.policy_id}",
            f"Add category {expense.category!r} to the policy (with a GL code) or "
            "re-categorise the expense.",
            tid,
        )
        return None
    exported = (expense.category_gl_code or "").strip()
    configured = (category.gl_code or "").strip()
    code = (configured or exported) if prefer_policy else (exported or configured)
    if not code:
        problems.add(
            ErrorCode.CATEGORY_NO_GL_CODE,
            field,
            f"category {category.name!r} has no GL code",
            f"Set the GL code of category {category.name!r} in the Expensify policy to an "
            "Acumatica expense account.",
            tid,
        )
        return None
    _check_account(catalog, code, field, f"category {category.name!r}", problems, tid)
    return code


def _dimensions(
    i: int,
    expense: Expense,
    policy: Policy,
    catalog: LedgerCatalog,
    rules: PostingRules,
    problems: _Problems,
) -> dict[AcumaticaField, str]:
    tid = expense.transaction_id
    mapped = {m.level for m in rules.tag_map}
    index_of = {t.level: j for j, t in enumerate(expense.tags)}
    for j, tag in enumerate(expense.tags):
        if tag.level in mapped or not tag.name:
            continue
        level = (
            policy.tag_levels[tag.level - 1] if 1 <= tag.level <= len(policy.tag_levels) else None
        )
        if level is not None and level.required:
            problems.add(
                ErrorCode.TAG_UNMAPPED,
                f"expenses[{i}].tags[{j}]",
                f"required tag level {tag.level} ({level.name!r}) has no mapping to an "
                "Acumatica field",
                f"Add a tag_map entry for level {tag.level} ({level.name!r}) to the rules.",
                tid,
            )
    values: dict[AcumaticaField, str] = {}
    for mapping in rules.tag_map:
        j_or_none = index_of.get(mapping.level)
        chosen = expense.tags[j_or_none] if j_or_none is not None else None
        if chosen is None or not chosen.name:
            if mapping.required:
                problems.add(
                    ErrorCode.TAG_MISSING,
                    f"expenses[{i}].tags",
                    f"expense has no tag on level {mapping.level}, which feeds "
                    f"{mapping.field.value} and is required",
                    f"Tag the expense on level {mapping.level} in Expensify, then re-export.",
                    tid,
                )
            continue
        if mapping.field in values:
            continue
        value = mapping.values.get(chosen.name)
        if value is None:
            value = chosen.gl_code if mapping.use_gl_code else chosen.name
        value = (value or "").strip()
        if not value:
            problems.add(
                ErrorCode.TAG_VALUE_UNKNOWN,
                f"expenses[{i}].tags[{j_or_none}]",
                f"tag {chosen.name!r} has no GL code to use as the {mapping.field.value}",
                f"Set a GL code on tag {chosen.name!r} in the policy or add it to the values "
                f"of the level-{mapping.level} tag mapping.",
                tid,
            )
            continue
        values[mapping.field] = value
        _check_dimension(i, j_or_none, tid, chosen.name, mapping.field, values, catalog, problems)
    return values


def _check_dimension(
    i: int,
    j: int | None,
    tid: str,
    tag_name: str,
    field: AcumaticaField,
    values: dict[AcumaticaField, str],
    catalog: LedgerCatalog,
    problems: _Problems,
) -> None:
    value = values[field]
    known: bool
    if field is AcumaticaField.PROJECT:
        known = value in catalog.projects
    elif field is AcumaticaField.PROJECT_TASK:
        project = values.get(AcumaticaField.PROJECT)
        known = project is not None and (project, value) in catalog.project_tasks
    elif field is AcumaticaField.BRANCH:
        known = value in catalog.branches
    elif field is AcumaticaField.SUBACCOUNT:
        known = value in catalog.subaccounts
    else:
        known = catalog.cost_codes is None or value in catalog.cost_codes
    if known:
        return
    if field is AcumaticaField.PROJECT_TASK:
        project = values.get(AcumaticaField.PROJECT)
        what = (
            f"task {value!r} of project {project!r}" if project else f"task {value!r} (no project)"
        )
    else:
        what = f"{field.value} {value!r}"
    problems.add(
        ErrorCode.TAG_VALUE_UNKNOWN,
        f"expenses[{i}].tags[{j}]",
        f"tag {tag_name!r} maps to {what}, which does not exist in Acumatica",
        f"Create {what} in Acumatica, or correct the tag's GL code / the tag mapping values.",
        tid,
    )


def _attendee_text(expense: Expense) -> str:
    names = [clean_text(a.label) for a in expense.attendees]
    names = list(dict.fromkeys(n for n in names if n))
    return f"attendees: {', '.join(names)}" if names else ""


def _rate_text(expense: Expense, report: Report) -> str:
    """``"[EUR 12.50 @ 1.085]"`` for a foreign expense: its original amount and the rate."""
    if expense.currency == report.currency:
        return ""
    cents = expense.effective_amount_cents
    try:
        original = cents_to_decimal(cents, expense.currency)
    except (CurrencyPrecisionError, DataError):  # e.g. JPY with a fraction: as exported
        original = Decimal(cents).scaleb(-2)
    rate = expense.currency_conversion_rate
    parts = [f"{expense.currency} {original}"]
    if rate is not None:
        parts.append(f"@ {rate.normalize():f}")
    return "[" + " ".join(parts) + "]"


def conversion_rates(report: Report) -> str | None:
    """The conversion rates a report's foreign expenses were posted at, for the audit.

    ``"<transactionID> EUR->USD 1.085; ..."`` (``rate ?`` where the export has none), or
    ``None`` when every expense is in the report currency.
    """
    parts = []
    for expense in report.expenses:
        if expense.currency == report.currency:
            continue
        rate = expense.currency_conversion_rate
        shown = "?" if rate is None else f"{rate.normalize():f}"
        parts.append(f"{expense.transaction_id} {expense.currency}->{report.currency} {shown}")
    return "; ".join(parts) or None


def _description(expense: Expense, report: Report | None = None) -> str:
    """``"<merchant> - <comment>; attendees: <names> [<cur> <amount> @ <rate>]"``.

    Cut to :data:`~expense_bridge._keys.DESCRIPTION_MAX_LENGTH`: the rate note (foreign
    expenses) is kept whole and the text before it is cut (attendees first, as they come
    last). No key travels in a line description (bills: ``VendorRef``; journals: the
    header ``Description`` and ``ReferenceNbr``), so a cut never touches a key.
    """
    merchant = expense.effective_merchant.strip()
    comment = expense.comment.strip()
    text = f"{merchant} - {comment}" if merchant and comment else merchant or comment
    attendees = _attendee_text(expense)
    if attendees:
        text = f"{text}; {attendees}" if text else attendees
    rate = "" if report is None else _rate_text(expense, report)
    if not rate:
        return clean_text(text)
    room = DESCRIPTION_MAX_LENGTH - len(rate) - 1
    head = clean_text(text, max(room, 0))
    return f"{head} {rate}" if head else rate


def _resolve_line(
    i: int,
    expense: Expense,
    report: Report,
    policy: Policy,
    catalog: LedgerCatalog,
    rules: PostingRules,
    currency_ok: bool,
    problems: _Problems,
) -> _Line | None:
    amount = _amount(i, expense, report, currency_ok, problems)
    account = _account(i, expense, policy, catalog, problems, rules.prefer_policy_gl_code)
    dims = _dimensions(i, expense, policy, catalog, rules, problems)
    if amount is None or account is None:
        return None
    return _Line(
        billable=expense.billable,
        amount=amount,
        account=account,
        subaccount=dims.get(AcumaticaField.SUBACCOUNT, rules.default_subaccount),
        branch=dims.get(AcumaticaField.BRANCH, rules.default_branch),
        project=dims.get(AcumaticaField.PROJECT),
        project_task=dims.get(AcumaticaField.PROJECT_TASK),
        cost_code=dims.get(AcumaticaField.COST_CODE),
        description=_description(expense, report),
    )


def _opt(value: str | None) -> Any:
    return UNSET if value is None else value


def _neg(value: Decimal) -> Decimal:
    """``-value`` without producing a negative zero."""
    return -value if value else value.copy_abs()


def _zero(like: Decimal) -> Decimal:
    return like.copy_abs() - like.copy_abs()


def _hold(rules: PostingRules) -> bool:
    return rules.hold and not rules.release


def _build_bill(
    report: Report,
    key: str,
    vendor: str,
    doc_date: date,
    lines: Sequence[_Line],
    rules: PostingRules,
) -> Bill:
    net = sum((line.amount for line in lines), Decimal(0))
    debit_adjustment = net < 0
    details = []
    for line in lines:
        amount = _neg(line.amount) if debit_adjustment else line.amount
        details.append(
            BillDetail(
                account=line.account,
                subaccount=_opt(line.subaccount),
                branch=_opt(line.branch),
                qty=Decimal(1),
                unit_cost=amount,
                extended_cost=amount,
                transaction_description=line.description,
                project=_opt(line.project),
                project_task=_opt(line.project_task),
                cost_code=_opt(line.cost_code),
                non_billable=not line.billable,
            )
        )
    return Bill(
        type=DEBIT_ADJUSTMENT_TYPE if debit_adjustment else BILL_TYPE,
        vendor=vendor,
        vendor_ref=key,
        date=doc_date,
        description=clean_text(report.report_name),
        currency_id=report.currency,
        hold=_hold(rules),
        terms=_opt(rules.bill_terms),
        branch_id=_opt(rules.default_branch),
        details=tuple(details),
    )


def _build_journal(
    report: Report,
    key: str,
    liability: str,
    doc_date: date,
    lines: Sequence[_Line],
    rules: PostingRules,
) -> JournalTransaction:
    details = []
    for line in lines:
        zero = _zero(line.amount)
        refund = line.amount < 0
        details.append(
            JournalTransactionDetail(
                account=line.account,
                subaccount=_opt(line.subaccount),
                branch_id=_opt(line.branch),
                debit_amount=zero if refund else line.amount,
                credit_amount=_neg(line.amount) if refund else zero,
                reference_nbr=key,
                transaction_description=line.description,
                project=_opt(line.project),
                project_task=_opt(line.project_task),
                cost_code=_opt(line.cost_code),
                non_billable=not line.billable,
            )
        )
    credits: dict[str, Decimal] = {}
    for line in lines:  # one credit line per liability account, first use first
        account = line.route or liability
        credits[account] = credits.get(account, Decimal(0)) + line.amount
    for account, net in credits.items():
        zero = _zero(net)
        details.append(
            JournalTransactionDetail(
                account=account,
                subaccount=_opt(rules.default_subaccount),
                branch_id=_opt(rules.default_branch),
                debit_amount=_neg(net) if net < 0 else zero,
                credit_amount=zero if net < 0 else net,
                reference_nbr=key,
                transaction_description=clean_text(f"Expensify report {report.report_id}"),
            )
        )
    return JournalTransaction(
        module="GL",
        transaction_date=doc_date,
        description=journal_description(key, report.report_name),
        currency_id=report.currency,
        ledger_id=rules.ledger_id,
        hold=_hold(rules),
        branch_id=_opt(rules.default_branch),
        details=tuple(details),
    )


def _plan(
    report: Report,
    policy: Policy,
    catalog: LedgerCatalog,
    rules: PostingRules,
    posting_date: date,
    wanted: dict[DocumentPart, DocumentKind],
    *,
    require_parts: bool = False,
    fingerprint: str | None = None,
) -> tuple[PlannedDocument, ...]:
    problems = _Problems()
    if not report.expenses:
        problems.add(
            ErrorCode.REPORT_EMPTY,
            "expenses",
            "the report has no expenses",
            "Add the expenses to the report in Expensify, or delete the empty report.",
        )
    keys: dict[DocumentPart, str] = {}
    for part in wanted:
        try:
            keys[part] = document_key(report.report_id, part)
        except ValueError as exc:
            problems.add(
                ErrorCode.REPORT_ID_INVALID,
                "report_id",
                str(exc),
                "Report a bug: Expensify report IDs are letters and digits.",
            )
            break
    currency_ok = _check_currency(report, catalog, rules, problems)
    zone = _zone(rules, problems)
    members: dict[DocumentPart, list[tuple[int, Expense]]] = {p: [] for p in wanted}
    for i, expense in enumerate(report.expenses):
        part = _part_of(expense)
        if part in members:
            members[part].append((i, expense))
    active = [
        p for p in (DocumentPart.REIMBURSABLE, DocumentPart.CARD) if p in wanted and members[p]
    ]
    for part in wanted:
        if not (require_parts and report.expenses and not members[part]):
            continue
        problems.add(
            ErrorCode.REPORT_EMPTY,
            "expenses",
            f"the report has no {part.value} expenses",
            "Plan only the parts the report has (plan_report does this).",
        )
    doc_date: date | None = None
    targets: dict[DocumentPart, str | None] = {}
    lines: dict[DocumentPart, list[_Line | None]] = {}
    routes: dict[int, str | None] = {}
    header: dict[str, str] = {}
    if active:
        doc_date = _document_date(report, rules, posting_date, zone, problems)
        _check_defaults(rules, catalog, problems)
        header = _report_header(report, catalog, rules, problems)
        if "BranchID" in header:  # the report's branch is its lines' default branch
            rules = attrs.evolve(rules, default_branch=header["BranchID"])
        for part in active:
            if part is DocumentPart.CARD and rules.card_accounts:
                routes = _card_routes(members[part], wanted[part], catalog, rules, problems)
                mapped = all(card_route_key(e, rules) is not None for _, e in members[part])
                if mapped:  # every card has its own target: the default is not needed
                    targets[part] = _card_bill_vendor(
                        report, members[part], routes, None, wanted[part], problems
                    )
                    continue
            targets[part] = _resolve_target(report, part, wanted[part], catalog, rules, problems)
            if part is DocumentPart.CARD and rules.card_accounts:
                targets[part] = _card_bill_vendor(
                    report, members[part], routes, targets[part], wanted[part], problems
                )
        for part in active:
            lines[part] = [
                _resolve_line(i, e, report, policy, catalog, rules, currency_ok, problems)
                for i, e in members[part]
            ]
            if part is DocumentPart.CARD and wanted[part] is DocumentKind.JOURNAL:
                lines[part] = [
                    None if line is None else attrs.evolve(line, route=routes.get(i))
                    for (i, _), line in zip(members[part], lines[part], strict=True)
                ]
    if problems.items:
        raise MappingError(report.report_id, tuple(problems.items))
    if fingerprint is None:
        fingerprint = content_fingerprint(report)
    planned = []
    for part in active:
        target = targets[part]
        part_lines = [line for line in lines[part] if line is not None]
        routed = target is None and all(line.route for line in part_lines)
        if (target is None and not routed) or doc_date is None:  # pragma: no cover
            raise AssertionError("unreported gap in the mapping")  # each gap is a problem
        target = target or ""  # a journal whose every line carries its card's account
        key = keys[part]
        document: Bill | JournalTransaction
        if wanted[part] is DocumentKind.BILL:
            document = _build_bill(report, key, target, doc_date, part_lines, rules)
        else:
            document = _build_journal(report, key, target, doc_date, part_lines, rules)
        document = _with_header(document, wanted[part], key, header)
        carried: list[tuple[str, ...]] = [(e.transaction_id,) for _, e in members[part]]
        carried += [()] * (len(document.details or ()) - len(carried))  # journal credits
        planned.append(
            PlannedDocument(
                report_id=report.report_id,
                part=part,
                kind=wanted[part],
                key=key,
                document=document,
                total=sum((line.amount for line in part_lines), Decimal(0)),
                currency=report.currency,
                fingerprint=fingerprint,
                line_transactions=tuple(carried),
            )
        )
    return tuple(planned)


# ------------------------------------------------------------------------ public API


def plan_report(
    report: Report,
    *,
    policy: Policy,
    catalog: LedgerCatalog,
    rules: PostingRules,
    posting_date: date,
    fingerprint: str | None = None,
) -> tuple[PlannedDocument, ...]:
    """Plan the 0-2 documents of ``report`` (reimbursable part first, then card part).

    ``fingerprint``: ``content_fingerprint(report)`` when the caller computed it already
    (the documents carry it); None computes it here.

    Raises :class:`~expense_bridge.MappingError` listing every problem of the report.
    """
    wanted: dict[DocumentPart, DocumentKind] = {}
    for part in (DocumentPart.REIMBURSABLE, DocumentPart.CARD):
        kind = _target_kind(part, rules)
        if kind is not None:
            wanted[part] = kind
    return _plan(report, policy, catalog, rules, posting_date, wanted, fingerprint=fingerprint)


def report_to_bill(
    report: Report,
    *,
    policy: Policy,
    catalog: LedgerCatalog,
    rules: PostingRules,
    posting_date: date,
    part: DocumentPart,
) -> PlannedDocument:
    """Plan ``part`` of ``report`` as an AP bill (or Debit Adj.), whatever the rules' target.

    Raises :class:`~expense_bridge.MappingError` (``REPORT_EMPTY`` when the report has no
    expense of that part).
    """
    (doc,) = _plan(
        report, policy, catalog, rules, posting_date, {part: DocumentKind.BILL}, require_parts=True
    )
    return doc


def report_to_journal(
    report: Report,
    *,
    policy: Policy,
    catalog: LedgerCatalog,
    rules: PostingRules,
    posting_date: date,
    part: DocumentPart,
) -> PlannedDocument:
    """Plan ``part`` of ``report`` as a GL journal transaction, whatever the rules' target.

    Raises :class:`~expense_bridge.MappingError` (``REPORT_EMPTY`` when the report has no
    expense of that part).
    """
    (doc,) = _plan(
        report,
        policy,
        catalog,
        rules,
        posting_date,
        {part: DocumentKind.JOURNAL},
        require_parts=True,
    )
    return doc


def _moment(value: datetime | None) -> str | None:
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def _expense_content(expense: Expense) -> dict[str, Any]:
    return {
        "transaction_id": expense.transaction_id,
        "amount_cents": expense.amount_cents,
        "modified_amount_cents": expense.modified_amount_cents,
        "converted_amount_cents": expense.converted_amount_cents,
        "currency": expense.currency,
        "date": expense.effective_date.isoformat(),
        "merchant": expense.effective_merchant,
        "comment": expense.comment,
        "category": expense.category,
        "tags": sorted([t.level, t.name, t.gl_code] for t in expense.tags),
        "reimbursable": expense.reimbursable,
        "billable": expense.billable,
    }


def content_fingerprint(report: Report) -> str:
    """SHA-256 (hex) of the report content that would change its posting (see module doc)."""
    content = {
        "report_id": report.report_id,
        "report_name": report.report_name,
        "policy_id": report.policy_id,
        "currency": report.currency,
        "total_cents": report.total_cents,
        "submitter": report.account_email.strip().lower(),
        "submitted": _moment(report.submitted),
        "approved": _moment(report.approved),
        "expenses": _sorted_expenses([_expense_content(e) for e in report.expenses]),
    }
    if report.custom_fields:  # only when exported, so earlier fingerprints stay valid
        content["report_fields"] = dict(sorted(report.custom_fields.items()))
    if any(e.attendees for e in report.expenses):
        content["attendees"] = sorted(
            [e.transaction_id, a.email or "", a.display_name or ""]
            for e in report.expenses
            for a in e.attendees
        )
    canonical = _CANONICAL.encode(content)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


#: ``json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=True)``, built once.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _sorted_expenses(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Expense contents in fingerprint order: by transaction ID, then by the whole content
    (``json.dumps(item, sort_keys=True)``). The second key only decides between equal IDs,
    so it is computed only when two expenses share one (the export parser refuses that)."""
    ids = [str(item["transaction_id"]) for item in items]
    if len(set(ids)) == len(ids):
        return sorted(items, key=lambda item: str(item["transaction_id"]))
    return sorted(
        items, key=lambda item: (str(item["transaction_id"]), json.dumps(item, sort_keys=True))
    )
