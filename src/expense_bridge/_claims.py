"""Acumatica Expense Claims as the reimbursable target (building blocks, issue 11).

One ``ExpenseClaim`` (EP301000) per report, claimed by the submitter's employee, with one
``ExpenseClaimDetails`` line per reimbursable expense: the expense item of its category
(from a category -> item table), expense account and subaccount (the category's GL code,
as for bills), branch, project and task, amount in the report currency, description,
the expense's own date, and ``Billable`` from the expense.

Keys and idempotency (as for journals, ``acumatica-api.md`` §5.8): the claim's key is the
report's reimbursable key ``EXB-<reportID>`` and travels as the prefix of the claim's
``Description`` (≤ 256 characters; ``RefNbr`` is auto-numbered so it cannot carry it),
written exactly as a journal's (:func:`~expense_bridge._keys.journal_description`). The
look-up is one ``startswith(Description, prefix)`` query per page of keys; a match is
confirmed client-side (the description must give back the exact key) and adopted only
when its claimant and total equal the planned ones (anything else is refused with
:class:`ClaimMismatchError`, never adopted and never posted again). A create is exactly
one PUT, never re-sent after a lost answer: the next look-up finds and adopts the claim.

Workflow: a claim is created On Hold; :meth:`ClaimLedger.advance` runs the remaining
contract actions up to a stage (``submit`` -> Pending Approval, ``approve`` -> Approved,
``release`` -> Released), each polled through its 202 by the client. It starts from the
claim's current status, so a lost answer or a failure half-way is finished by calling it
again, and no action is ever sent twice for one transition.

Card expenses keep their own target (``rules.card_target``): the Default contract has no
"Paid With" field (§5.8), so a claim cannot carry corporate-card spend.

Wiring: with ``rules.reimbursable_target = "expense_claim"`` the mapping plans the
reimbursable part as a bill (same checks) and :func:`plan_with_claims` turns it into the claim
(:class:`~expense_bridge.mapping.PlannedDocument` of kind ``CLAIM``);
:class:`~expense_bridge._ledger.AcumaticaLedger` looks claims up, creates them and takes
them to the configured stage (``rules.claim_stage``, else :meth:`ClaimStage.from_rules`).
Header: the report fields (``rules.report_fields``) and the default branch reach the
claim where the ``ExpenseClaim`` schema has them: ``Description`` (after the key prefix)
and ``FinancialDetails.Branch``; the schema has no header project.

Tax: with ``rules.tax_categories`` each claim line whose expense has tax carries the mapped
``TaxCategory`` (the line's amount stays tax-inclusive, as on a bill line; the tenant
computes the tax). ``rules.tax_account`` (tax as its own line) is refused with claims by the
configuration: a claim line is one expense and its expense item. ``rules.tax_zone`` is the
claim's ``FinancialDetails.TaxZone`` and every line's ``TaxZone``; a zone the tenant lacks
holds the report (:func:`~expense_bridge._tax.tax_zone_problems`). Lines carry no
``TaxAmount`` (the tenant computes it from category and zone).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import ClassVar, Final

import attrs

from acumatica_client import (
    UNSET,
    AcumaticaClient,
    AcumaticaError,
    Bill,
    BillDetail,
    ExpenseClaim,
    ExpenseClaimDetail,
    ExpenseClaimFinancialDetail,
    Field,
    Filter,
    UnprocessableEntityError,
)
from expensify_client import Expense, Policy, Report

from ._catalog import LedgerCatalog
from ._errors import BridgeError, ErrorCode, MappingError, Problem
from ._keys import (
    DocumentKind,
    DocumentPart,
    document_key,
    journal_description,
    key_from_description,
)
from ._rules import ClaimStage, PostingRules, ReimbursableTarget
from ._tax import tax_zone_problems
from .mapping import PlannedDocument, report_to_bill

__all__ = [
    "CLAIM_ACTION_SETTLE",
    "ClaimActionRunningError",
    "ClaimLedger",
    "ClaimMismatchError",
    "ClaimPlan",
    "ClaimStage",
    "claim_from_bill",
    "expense_item_warnings",
    "plan_claim",
    "plan_with_claims",
]

#: How long after a claim action was sent (its answer lost) it may still be running in
#: Acumatica: within it, a claim still showing the action's starting status is waited for,
#: never sent the action again; after it, the action is taken as not run and sent again.
CLAIM_ACTION_SETTLE: Final = timedelta(minutes=15)

_FIELDS: Final = ("RefNbr", "Description", "Status", "ClaimedBy", "ClaimTotal", "CurrencyID")


#: status -> (action that moves it on, the status it reaches).
_NEXT: Final[Mapping[str, tuple[str, str]]] = {
    "On Hold": ("SubmitExpenseClaim", "Pending Approval"),
    "Pending Approval": ("ApproveExpenseClaim", "Approved"),
    "Approved": ("ReleaseExpenseClaim", "Released"),
}
_REACHED: Final[Mapping[ClaimStage, frozenset[str]]] = {
    ClaimStage.HOLD: frozenset({"On Hold", "Pending Approval", "Approved", "Released"}),
    ClaimStage.SUBMIT: frozenset({"Pending Approval", "Approved", "Released"}),
    ClaimStage.APPROVE: frozenset({"Approved", "Released"}),
    ClaimStage.RELEASE: frozenset({"Released"}),
}


@attrs.frozen(kw_only=True)
class ClaimPlan:
    """The claim planned for a report's reimbursable expenses."""

    report_id: str
    key: str
    claim: ExpenseClaim
    claimant: str
    total: Decimal
    currency: str


class ClaimActionRunningError(AcumaticaError):
    """A workflow action sent earlier (its answer lost) may still be running: the claim
    still shows the status the action started from. Transient: the next run reads the
    status again; the action is not sent a second time meanwhile."""

    retryable: ClassVar[bool] = True

    def __init__(self, ref_nbr: str, action: str, status: str) -> None:
        self.ref_nbr, self.action, self.status = ref_nbr, action, status
        super().__init__(
            f"expense claim {ref_nbr}: {action} was sent earlier and its outcome is not "
            f"known; the claim is still {status!r} (the action may still be running)"
        )


class ClaimMismatchError(BridgeError):
    """A claim carries our key but not our claimant/total: neither adopted nor re-posted."""

    code: ClassVar[ErrorCode] = ErrorCode.LEDGER_REJECTED

    def __init__(self, key: str, ref_nbr: str, message: str) -> None:
        self.key, self.ref_nbr = key, ref_nbr
        super().__init__(f"expense claim {ref_nbr} carries key {key} but {message}")


# --------------------------------------------------------------------------- mapping


def _item_problems(
    report: Report,
    expense_items: Mapping[str, str],
    known_items: frozenset[str] | None = None,
) -> tuple[list[Problem], list[tuple[int, Expense, str]]]:
    problems: list[Problem] = []
    items: list[tuple[int, Expense, str]] = []
    for i, expense in enumerate(report.expenses):
        if not expense.reimbursable:
            continue
        item = expense_items.get(expense.category or "")
        if item is None:
            problems.append(
                Problem(
                    code=ErrorCode.RULES_INVALID,
                    field=f"expenses[{i}].category",
                    message=(
                        f"category {expense.category!r} has no expense item in "
                        "rules.expense_items (an expense claim line needs one)"
                    ),
                    fix=(
                        "Add the category to rules.expense_items with the Acumatica "
                        "non-stock expense item it is claimed as."
                    ),
                    transaction_id=expense.transaction_id,
                )
            )
        elif known_items is not None and item not in known_items:
            problems.append(
                Problem(
                    code=ErrorCode.RULES_INVALID,
                    field=f"expenses[{i}].category",
                    message=(
                        f"category {expense.category!r} maps to expense item {item!r} "
                        "(rules.expense_items), which is not an active non-stock item in "
                        "Acumatica"
                    ),
                    fix=(
                        f"Create the non-stock item {item} in Acumatica (IN202000) or "
                        "correct rules.expense_items."
                    ),
                    transaction_id=expense.transaction_id,
                )
            )
        else:
            items.append((i, expense, item))
    return problems, items


def _refund_problem(total: Decimal, currency: str) -> Problem:
    return Problem(
        code=ErrorCode.RULES_INVALID,
        field="expenses",
        message=(
            f"the reimbursable expenses net to {total} {currency}; an "
            "expense claim total cannot be negative"
        ),
        fix="Post this report as a bill (Debit Adj.) or correct the refund in Expensify.",
    )


def _claim(
    report: Report,
    bill: Bill,
    items: list[tuple[int, Expense, str]],
    key: str,
    tax_zone: str | None = None,
) -> tuple[ExpenseClaim, str]:
    details = bill.details if isinstance(bill.details, tuple) else ()
    lines = [
        _line(expense, item, detail, report.currency, tax_zone)
        for (_, expense, item), detail in zip(items, details, strict=True)
    ]
    claimant = bill.vendor if isinstance(bill.vendor, str) else ""
    # The bill's header carries the report fields (rules.report_fields) and the default
    # branch; a claim has them where its schema does: Description (after the key prefix)
    # and FinancialDetails.Branch. It has no header Project (the lines carry theirs).
    name = bill.description if isinstance(bill.description, str) else report.report_name
    branch = bill.branch_id if isinstance(bill.branch_id, str) and bill.branch_id else None
    claim = ExpenseClaim(
        claimed_by=claimant,
        date=bill.date,
        description=journal_description(key, name),
        currency_id=report.currency,
        details=tuple(lines),
        financial_details=(
            UNSET
            if branch is None and tax_zone is None
            else ExpenseClaimFinancialDetail(
                branch=UNSET if branch is None else branch,
                tax_zone=UNSET if tax_zone is None else tax_zone,
            )
        ),
    )
    return claim, claimant


def plan_claim(
    report: Report,
    *,
    policy: Policy,
    catalog: LedgerCatalog,
    rules: PostingRules,
    posting_date: date,
    expense_items: Mapping[str, str],
) -> ClaimPlan:
    """Plan the claim of ``report``'s reimbursable expenses (pure; no I/O).

    Accounts, dimensions, amounts, currency checks and the claimant follow the bill
    mapping exactly (:func:`expense_bridge.mapping.report_to_bill`; the claimant is the
    submitter's employee -- :meth:`LedgerCatalog.vendor_for` maps employees first).
    Raises :class:`~expense_bridge.MappingError` listing every problem: the bill
    mapping's, every reimbursable expense whose category has no expense item (or one the
    catalog's ``expense_items`` does not list), and a net refund (a claim total cannot be
    negative; post such reports as bills).
    """
    item_problems, items = _item_problems(report, expense_items, catalog.expense_items)
    problems: list[Problem] = []
    bill = None
    try:
        bill = report_to_bill(
            report,
            policy=policy,
            catalog=catalog,
            rules=rules,
            posting_date=posting_date,
            part=DocumentPart.REIMBURSABLE,
        )
    except MappingError as exc:
        problems.extend(exc.problems)
    problems.extend(item_problems)
    problems.extend(tax_zone_problems(rules, catalog))
    if bill is not None and bill.total < 0:
        problems.append(_refund_problem(bill.total, report.currency))
    if problems or bill is None or not isinstance(bill.document, Bill):
        raise MappingError(report.report_id, tuple(problems))
    key = document_key(report.report_id, DocumentPart.REIMBURSABLE)
    claim, claimant = _claim(report, bill.document, items, key, rules.tax_zone)
    return ClaimPlan(
        report_id=report.report_id,
        key=key,
        claim=claim,
        claimant=claimant,
        total=bill.total,
        currency=report.currency,
    )


def claim_from_bill(
    report: Report, planned: PlannedDocument, *, catalog: LedgerCatalog, rules: PostingRules
) -> PlannedDocument:
    """The claim carrying what ``planned`` (the reimbursable part, planned as a bill)
    carries: same key, total and fingerprint, kind ``CLAIM``. Raises
    :class:`~expense_bridge.MappingError` for missing/unknown expense items, a tax zone the
    tenant lacks and refunds."""
    problems, items = _item_problems(report, rules.expense_items, catalog.expense_items)
    problems += tax_zone_problems(rules, catalog)
    if planned.total < 0:
        problems.append(_refund_problem(planned.total, planned.currency))
    if problems:
        raise MappingError(report.report_id, tuple(problems))
    if not isinstance(planned.document, Bill):  # pragma: no cover - the mapping plans a bill
        raise TypeError("claim_from_bill() needs the reimbursable part planned as a bill")
    claim, _ = _claim(report, planned.document, items, planned.key, rules.tax_zone)
    return attrs.evolve(planned, kind=DocumentKind.CLAIM, document=claim)


def expense_item_warnings(rules: PostingRules, catalog: LedgerCatalog) -> list[str]:
    """Preflight: one warning per ``rules.expense_items`` entry naming an item that is not
    an active non-stock item in Acumatica (reports using it are held when planned)."""
    if rules.reimbursable_target is not ReimbursableTarget.EXPENSE_CLAIM:
        return []
    known = catalog.expense_items
    if known is None:
        return []
    return [
        f"rules.expense_items: category {category!r} maps to expense item {item!r}, which "
        "is not an active non-stock item in Acumatica"
        for category, item in sorted(rules.expense_items.items())
        if item not in known
    ]


def plan_with_claims(
    plan: Callable[[], tuple[PlannedDocument, ...]],
    report: Report,
    rules: PostingRules,
    catalog: LedgerCatalog,
) -> tuple[PlannedDocument, ...]:
    """``plan()`` with the reimbursable bill turned into a claim when the target is
    ``expense_claim`` (else ``plan()`` as it is).

    The expense-item (and ``rules.tax_zone``) problems are reported together with the
    mapping's own problems in one :class:`~expense_bridge.MappingError`.
    """
    if rules.reimbursable_target is not ReimbursableTarget.EXPENSE_CLAIM:
        return plan()
    extra, _ = _item_problems(report, rules.expense_items, catalog.expense_items)
    if any(e.reimbursable for e in report.expenses):  # a claim is planned
        extra += tax_zone_problems(rules, catalog)
    try:
        docs = plan()
    except MappingError as exc:
        raise MappingError(report.report_id, (*exc.problems, *extra)) from None
    return tuple(
        claim_from_bill(report, d, catalog=catalog, rules=rules)
        if d.part is DocumentPart.REIMBURSABLE
        else d
        for d in docs
    )


def _line(
    expense: Expense, item: str, detail: BillDetail, currency: str, tax_zone: str | None = None
) -> ExpenseClaimDetail:
    amount = detail.unit_cost if isinstance(detail.unit_cost, Decimal) else Decimal(0)
    text = detail.transaction_description
    description = text if isinstance(text, str) and text else (expense.category or item)
    return ExpenseClaimDetail(
        date=expense.effective_date,
        description=description,
        amount=amount,
        currency_id=currency,
        expense_item_id=item,
        expense_account=detail.account,
        expense_subaccount=detail.subaccount,
        branch=detail.branch,
        project_id=detail.project,
        project_task_id=detail.project_task,
        billable=expense.billable,
        tax_category=detail.tax_category,
        tax_zone=UNSET if tax_zone is None else tax_zone,
    )


# --------------------------------------------------------------------------- ledger


def _prefix(key: str) -> str:
    """The literal a claim description starts with (the journal convention)."""
    return journal_description(key, "").strip()


class ClaimLedger:
    """Expense claims in Acumatica: look-up by key, one-PUT create, workflow actions."""

    def __init__(self, client: AcumaticaClient, *, page_size: int = 50) -> None:
        self.client = client
        self.page_size = page_size

    def find(self, keys: Iterable[str]) -> dict[str, ExpenseClaim]:
        """Existing claims for ``keys`` (by key); one query per page of keys."""
        ordered = sorted(set(keys))
        found: dict[str, ExpenseClaim] = {}
        for start in range(0, len(ordered), self.page_size):
            page = ordered[start : start + self.page_size]
            wanted = Filter.any_of(Field("Description").startswith(_prefix(k)) for k in page)
            for claim in self.client.list(ExpenseClaim, filter=wanted, select=_FIELDS):
                text = claim.description
                key = key_from_description(text) if isinstance(text, str) else None
                if key is not None and key in page:
                    found[key] = claim
        return found

    def post(
        self, plan: ClaimPlan, existing: Mapping[str, ExpenseClaim] | None = None
    ) -> tuple[ExpenseClaim, bool]:
        """``(claim, created)``: adopt the matching claim for ``plan.key`` or create one.

        ``existing`` is a batched :meth:`find` result; without it the key is looked up
        here. A create whose answer is lost raises the client's connection error; the
        next call adopts. A claim with our key but another claimant or total raises
        :class:`ClaimMismatchError`.
        """
        found = (existing if existing is not None else self.find([plan.key])).get(plan.key)
        if found is not None:
            self._check(plan, found)
            return found, False
        return self.client.put(plan.claim), True

    def _check(self, plan: ClaimPlan, found: ExpenseClaim) -> None:
        ref = str(found.ref_nbr)
        if found.claimed_by != plan.claimant:
            raise ClaimMismatchError(plan.key, ref, f"is claimed by {found.claimed_by!r}, "
                                                    f"not {plan.claimant!r}")  # fmt: skip
        total = found.claim_total
        if isinstance(total, Decimal) and total != plan.total:
            raise ClaimMismatchError(
                plan.key, ref, f"totals {total}, not {plan.total} {plan.currency}"
            )

    def advance(
        self,
        claim: ExpenseClaim,
        stage: ClaimStage,
        *,
        in_flight: Iterable[str] = (),
        on_send: Callable[[str, str], None] | None = None,
        settle_reads: int = 3,
        settle_delay: float = 2.0,
    ) -> str:
        """Run the actions that take ``claim`` to ``stage``; the status reached.

        The claim's current status is read first (one GET by ``RefNbr``), so only the
        missing transitions are sent; a status outside the workflow (Rejected) stops.
        An action refused (422) because the claim has moved on meanwhile (an earlier
        action whose answer was lost finished late) is not an error: the status is read
        again and the walk continues from there.

        Double-send guard: ``on_send(action, status)`` is called just before each action
        is sent (the caller records the intent durably); ``in_flight`` names the statuses
        from which an action was sent earlier without a known outcome. When the claim
        still shows such a status, the action may still be running in Acumatica: the
        status is read again up to ``settle_reads`` times, ``settle_delay`` seconds apart
        (the client's sleep), and if it has not moved, :class:`ClaimActionRunningError`
        is raised instead of sending the action a second time. The caller stops naming a
        status in ``in_flight`` once the intent is old enough that no action can still be
        running (then the action is sent again).
        """
        ref = claim.ref_nbr
        if not isinstance(ref, str):
            raise TypeError("advance() needs a saved claim (RefNbr)")
        waiting = set(in_flight)
        status = self._status(ref)
        while status not in _REACHED[stage] and status in _NEXT:
            action, reached = _NEXT[status]
            if status in waiting:
                status = self._settle(ref, status, settle_reads, settle_delay)
                if status in waiting:
                    raise ClaimActionRunningError(ref, action, status)
                continue
            if on_send is not None:
                on_send(action, status)
            try:
                self.client.invoke_action(ExpenseClaim, action, ExpenseClaim(ref_nbr=ref))
            except UnprocessableEntityError:
                # Refused for the claim's status: an earlier action whose answer was lost
                # may have finished meanwhile. Go on only if the claim did move on.
                now = self._status(ref)
                if now == status:
                    raise
                status = now
                continue
            status = reached
        return status

    def _settle(self, ref: str, status: str, reads: int, delay: float) -> str:
        """The claim's status once it leaves ``status`` (at most ``reads`` more reads)."""
        for _ in range(reads):
            self.client.options.sleep(delay)
            now = self._status(ref)
            if now != status:
                return now
        return status

    def _status(self, ref: str) -> str:
        current = self.client.get(ExpenseClaim, ref, select=("RefNbr", "Status")).status
        return current if isinstance(current, str) else "On Hold"
