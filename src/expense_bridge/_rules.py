"""Posting rules: the part of the configuration that decides what a report becomes.

These are plain frozen values, passed into the pure mapping functions and embedded in
:class:`expense_bridge.BridgeConfig`. They read no clock, no settings and no network.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from expensify_client import ReportState

from ._periods import ClosedPeriodRule

__all__ = [
    "HEADER_FIELD_NAMES",
    "AcumaticaField",
    "CardTarget",
    "ClaimStage",
    "ClosedPeriodRule",
    "DateRule",
    "PostIn",
    "PostingRules",
    "ReceiptTarget",
    "ReimbursableTarget",
    "TagMapping",
    "Trigger",
]


class Trigger(enum.Enum):
    """Which report state makes a report ready to post."""

    APPROVED = "APPROVED"  # accrual: post when approved
    REIMBURSED = "REIMBURSED"  # cash: post when reimbursed

    @property
    def report_states(self) -> tuple[ReportState, ...]:
        """The Expensify states that satisfy this trigger (a reimbursed report was approved)."""
        if self is Trigger.APPROVED:
            return (ReportState.APPROVED, ReportState.REIMBURSED)
        return (ReportState.REIMBURSED,)


class ReimbursableTarget(enum.Enum):
    """What reimbursable (out-of-pocket) spend becomes in Acumatica."""

    AP_BILL = "ap_bill"  # an AP bill to the employee's vendor record
    JOURNAL = "journal"  # a GL journal transaction crediting the employee liability account
    EXPENSE_CLAIM = "expense_claim"  # an EP expense claim claimed by the employee


class ClaimStage(enum.Enum):
    """How far a created expense claim is taken through its workflow."""

    HOLD = "hold"  # left On Hold (as created)
    SUBMIT = "submit"  # SubmitExpenseClaim -> Pending Approval
    APPROVE = "approve"  # ... ApproveExpenseClaim -> Approved
    RELEASE = "release"  # ... ReleaseExpenseClaim -> Released (AP bill to the employee)

    @classmethod
    def from_rules(cls, rules: PostingRules) -> ClaimStage:
        """``rules.claim_stage`` when set; else ``release`` -> RELEASE, ``hold`` -> HOLD,
        otherwise SUBMIT (the claim waits for approval in Acumatica)."""
        if rules.claim_stage is not None:
            return rules.claim_stage
        if rules.release:
            return cls.RELEASE
        return cls.HOLD if rules.hold else cls.SUBMIT


class ReceiptTarget(enum.Enum):
    """Where an expense's receipt is attached (``rules.receipts_on``)."""

    DOCUMENT = "document"  # the document header (bill, journal, claim)
    LINE = "line"  # the line carrying the expense (its files:put link); else the header


class CardTarget(enum.Enum):
    """What company-card (non-reimbursable) spend becomes in Acumatica."""

    AP_BILL = "ap_bill"  # an AP bill to the card issuer's vendor
    JOURNAL = "journal"  # a GL journal transaction crediting the card liability account
    SKIP = "skip"  # not posted (e.g. the card feed is reconciled elsewhere)


class PostIn(enum.Enum):
    """Which currency a document is posted in (``rules.post_in``)."""

    REPORT = "report"  # the report currency (Expensify's converted amounts), any the tenant has
    BASE = "base"  # only the base currency: a report in another currency is held


class DateRule(enum.Enum):
    """Which date becomes the Acumatica document date."""

    APPROVED = "approved"
    SUBMITTED = "submitted"
    LAST_EXPENSE = "last_expense"
    POSTING = "posting"  # the date of the sync run (passed in, never read from a clock)


class AcumaticaField(enum.Enum):
    """Acumatica line fields a tag level can feed."""

    PROJECT = "project"
    PROJECT_TASK = "project_task"
    BRANCH = "branch"
    SUBACCOUNT = "subaccount"  # the whole subaccount code
    COST_CODE = "cost_code"


#: Header fields a report field can fill (``rules.report_fields`` values); which of them
#: each document has: see :data:`expense_bridge.mapping.HEADER_FIELDS`.
HEADER_FIELD_NAMES: frozenset[str] = frozenset(
    {"BranchID", "Project", "Description", "LocationID", "Terms"}
)


@attrs.frozen(kw_only=True)
class TagMapping:
    """Maps one Expensify tag level (1-based, as ``ntag1``) to an Acumatica line field.

    ``use_gl_code``: take the tag's GL code as the value (else the tag name).
    ``values``: an explicit tag value -> Acumatica value table, consulted first.
    """

    level: int
    field: AcumaticaField
    use_gl_code: bool = True
    values: Mapping[str, str] = attrs.field(factory=dict)
    required: bool = False


@attrs.frozen(kw_only=True)
class PostingRules:
    """Everything the mapping needs to know about the customer's posting choices."""

    trigger: Trigger = Trigger.APPROVED
    reimbursable_target: ReimbursableTarget = ReimbursableTarget.AP_BILL
    card_target: CardTarget = CardTarget.JOURNAL
    date_rule: DateRule = DateRule.APPROVED
    tag_map: tuple[TagMapping, ...] = ()
    default_branch: str | None = None
    default_subaccount: str | None = None
    hold: bool = False  # leave documents on hold (True) or ready to release
    release: bool = False  # release documents after creating them (implies hold=False)
    # Journal-transaction credits
    employee_liability_account: str | None = None  # reimbursable spend as a journal
    card_liability_account: str | None = None  # card spend as a journal
    card_vendor: str | None = None  # card spend as a bill: the card issuer's vendor ID
    ledger_id: str = "ACTUAL"
    bill_terms: str | None = None
    # Multi-currency: post in the report currency (converted amounts) by default.
    base_currency: str = "USD"
    # IANA time zone (``zoneinfo`` name) in which report timestamps become document dates.
    timezone: str = "UTC"
    # Payment status back to Expensify (accrual): a report whose bill is paid in Acumatica
    # is marked reimbursed in Expensify, once (see :mod:`._payments`).
    mark_reimbursed_when_paid: bool = False
    # Tax (see :mod:`._tax`): Expensify tax code/name -> Acumatica TaxCategory on bill
    # lines, or (tax_account) each expense's tax split onto its own line on that account.
    tax_categories: Mapping[str, str] = attrs.field(factory=dict)
    tax_account: str | None = None
    # The document TaxZone of expense claims (FinancialDetails.TaxZone and each line's);
    # a bill has no tax zone field (it follows the vendor's), so only claims carry it.
    tax_zone: str | None = None
    # GL codes: the export's ``categoryGlCode`` is the source of each line's account; the
    # policy getter's category GL code (absent from its documented shape) is preferred
    # only when this is set (else used only where the export has none).
    prefer_policy_gl_code: bool = False
    # Report states (see :meth:`Trigger.report_states`): with the cash trigger, card-only
    # reports (nothing to reimburse, final at APPROVED) are posted once approved; reports
    # closed by a Submit-and-Close policy (website "Closed", filter state ARCHIVED) are
    # posted when ``post_closed`` is set.
    post_card_only_approved: bool = True
    post_closed: bool = False
    # Expense claims (reimbursable_target EXPENSE_CLAIM, see :mod:`._claims`): Expensify
    # category -> Acumatica expense item (a NonStockItem); how far a claim is taken
    # (None: follow ``hold``/``release``, see :meth:`ClaimStage.from_rules`).
    expense_items: Mapping[str, str] = attrs.field(factory=dict)
    claim_stage: ClaimStage | None = None
    # Receipts (see :mod:`._receipts`): attach each expense's receipt to its document.
    attach_receipts: bool = False
    # Where (see :class:`ReceiptTarget`), and how many syncs try a receipt that failed
    # (a warning) before it is left: the posting run and the retries of later syncs.
    receipts_on: ReceiptTarget = ReceiptTarget.DOCUMENT
    receipt_attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    # The report as a PDF with full-page receipts (see :mod:`._report_pdf`), attached to
    # each of its documents once (two Expensify calls per report).
    attach_report_pdf: bool = False
    # Closed financial periods (see :mod:`._periods`): hold, or post into the next open one.
    closed_period: ClosedPeriodRule = ClosedPeriodRule.HOLD
    # Reports posted at once (see :func:`~expense_bridge._posting.posting_concurrency`):
    # None follows the licence's ``max_concurrent``; a number can only lower it.
    posting_concurrency: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1))
    )
    # Per-card routing (see :mod:`.mapping`): a card, by the export's ``cardID``, masked
    # ``cardNumber`` or ``bank`` (feed name), -> its own vendor (card_target ap_bill) or
    # liability account (card_target journal); unmapped cards use card_vendor /
    # card_liability_account.
    card_accounts: Mapping[str, str] = attrs.field(factory=dict)
    # Report fields -> header fields (see :mod:`.mapping`): an Expensify report field (by
    # name) -> the Acumatica header field its value fills (BranchID, Project, Description,
    # LocationID, Terms on bills; BranchID, Description on journals).
    report_fields: Mapping[str, str] = attrs.field(factory=dict)
    # Currencies (see :mod:`.mapping`): ``REPORT`` posts each document in the report
    # currency (Expensify's converted amounts; the base currency when the policy outputs
    # it); ``BASE`` requires the report currency to be ``base_currency`` and holds others.
    post_in: PostIn = PostIn.REPORT
    # A submitter who is an Acumatica employee without a vendor record gets one, created
    # from the employee (see :mod:`._vendors`); reimbursable bills then go to vendor
    # records only. Off: the employee code or vendor found by e-mail, else held.
    create_missing_vendors: bool = False

    def pull_states(self) -> tuple[ReportState, ...]:
        """The export states a pull asks for (the trigger's, plus the options above)."""
        states = list(self.trigger.report_states)
        if self.trigger is Trigger.REIMBURSED and self.post_card_only_approved:
            states.append(ReportState.APPROVED)  # card-only ones are kept by is_ready()
        if self.post_closed:
            states.append(ReportState.ARCHIVED)
        return tuple(dict.fromkeys(states))

    def is_ready(self, status: ReportState | None, reimbursable_spend: bool) -> bool:
        """Whether a pulled report in ``status`` is final for this trigger.

        ``reimbursable_spend``: the report has out-of-pocket expenses to reimburse. A
        reimbursable report approved but not reimbursed waits under the cash trigger.
        """
        if status is None:
            return False
        if status in self.trigger.report_states:
            return True
        if status is ReportState.ARCHIVED:
            return self.post_closed
        return (
            status is ReportState.APPROVED
            and self.trigger is Trigger.REIMBURSED
            and self.post_card_only_approved
            and not reimbursable_spend
        )
