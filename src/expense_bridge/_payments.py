"""Payment status back to Expensify: a bill or claim paid in Acumatica marks its report
reimbursed.

Accrual flows (``rules.trigger = "APPROVED"``) post a report's bill when the report is
approved; the employee is paid later, from Acumatica. With
``rules.mark_reimbursed_when_paid = true`` (off by default) every sync, after posting,
looks at the reimbursable bills it posted and acknowledged earlier and, for each one
that is paid -- status ``Closed`` (Acumatica closes a bill when payments bring its
balance to zero) with a zero or absent ``Balance`` -- moves the report from Approved to
Reimbursed in Expensify with the Integration Server's ``update``/``reportStatus`` job
(``status: "REIMBURSED"``; see ``expensify-api.md``, "Report status").

Exactly once
    Each report is marked at most once: the intent (``reimburse``/``marking``) is audited
    before the job, the outcome after. A report whose trail ends with a final
    ``reimburse`` entry (``marked reimbursed``, ``already reimbursed`` or ``skipped``) is
    never looked at again. A lost answer leaves only the intent; the next run sends the
    job again, and Expensify itself refuses to reimburse a report twice (only Approved ->
    Reimbursed exists; a reimbursed report comes back in ``skippedReports`` with "Report
    is in status 'Reimbursed'"), which is recorded as ``already reimbursed``.

Expense claims
    Acumatica has no paid status for a claim: releasing it creates the employee's AP
    document(s), listed in the claim's ``FinancialDetails.APDocuments``, and those are
    paid. A claim is paid when it is ``Released``, lists at least one AP document, and
    every one of them is ``Closed`` with a zero or absent ``Balance`` (read from the
    ``Bill`` itself). A claim not yet released (or released with an AP document still
    open) is looked at again next run. The same audit steps and exactly-once rule apply.

Call budget: one Bill query per page of keys (``VendorRef`` in the page, selected fields
only); for claims, one ExpenseClaim query per page of claim numbers (``RefNbr`` in the
page, ``FinancialDetails/APDocuments`` expanded) and one Bill query per page of their AP
documents; one ``reportStatus`` job for all reports newly found paid; none when nothing
is due. Card bills (to the card issuer) and journals are never considered: nothing is
owed to the employee for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

import attrs

from acumatica_client import AcumaticaClient, AcumaticaError, Bill, ExpenseClaim, Field
from expensify_client import ExpensifyClient, ExpensifyError

from ._config import BridgeConfig
from ._keys import DocumentPart, parse_key
from ._results import CallCounts, SyncResult
from ._rules import Trigger
from ._store import AuditEntry, ReportStatus, StateStore

__all__ = [
    "PAYMENT_LOOKBACK",
    "PaymentSync",
    "paid_bills",
    "paid_claims",
    "sync_payments",
    "with_payment_sync",
]

logger = logging.getLogger(__name__)

STEP: Final = "reimburse"
#: Outcomes after which a report is never marked again.
FINAL: Final = frozenset({"marked reimbursed", "already reimbursed", "skipped"})
#: ``skippedReports[].reason`` of a report already reimbursed (the documented pattern is
#: ``Report is in status 'Open'``; Classic's status name is "Reimbursed").
_ALREADY: Final = "'reimbursed'"
_PAID_STATUS: Final = "Closed"
_RELEASED: Final = "Released"
#: The number prefix of an expense claim in the store (``"Claim 000123"``).
_CLAIM_PREFIX: Final = "Claim "
#: Reports acknowledged longer ago than this are no longer watched for payment (bounds
#: the per-run work; a bill unpaid for over a year is settled by hand).
PAYMENT_LOOKBACK: Final = timedelta(days=400)


@attrs.frozen(kw_only=True)
class PaymentSync:
    """What one payment sync-back step did."""

    checked: int = 0  # reimbursable bills and claims looked at
    marked: tuple[str, ...] = ()  # reports moved to Reimbursed in this step
    already: tuple[str, ...] = ()  # reports Expensify had already reimbursed
    skipped: tuple[tuple[str, str], ...] = ()  # (report, Expensify's reason)
    errors: tuple[str, ...] = ()  # run-level failures (retried next run)
    calls: CallCounts = CallCounts()


def _is_paid(bill: Bill) -> bool:
    balance = bill.balance if isinstance(bill.balance, Decimal) else None
    return bill.status == _PAID_STATUS and (balance is None or balance == 0)


def paid_bills(
    client: AcumaticaClient, keys: Sequence[str], *, page_size: int = 50
) -> dict[str, Bill]:
    """The bills among ``keys`` (``VendorRef`` values) that are paid; one query per page."""
    paid: dict[str, Bill] = {}
    ordered = sorted(set(keys))
    for start in range(0, len(ordered), page_size):
        page = ordered[start : start + page_size]
        for bill in client.list(
            Bill,
            filter=Field("VendorRef").in_(page),
            select=("Type", "ReferenceNbr", "VendorRef", "Status", "Balance"),
        ):
            ref = bill.vendor_ref
            if isinstance(ref, str) and ref in page and _is_paid(bill):
                paid[ref] = bill
    return paid


def paid_claims(
    client: AcumaticaClient, ref_nbrs: Sequence[str], *, page_size: int = 50
) -> dict[str, str]:
    """The claims among ``ref_nbrs`` (``RefNbr``) that are paid -> a line naming their AP
    documents; one claim query per page, one bill query per page of their AP documents.

    Paid: ``Released``, at least one AP document, each ``Closed`` with balance 0.
    """
    ordered = sorted(set(ref_nbrs))
    candidates: dict[str, list[tuple[str, str]]] = {}
    for start in range(0, len(ordered), page_size):
        page = ordered[start : start + page_size]
        for claim in client.list(
            ExpenseClaim,
            filter=Field("RefNbr").in_(page),
            expand=("FinancialDetails", "FinancialDetails/APDocuments"),
        ):
            ref = claim.ref_nbr
            if not isinstance(ref, str) or ref not in page or claim.status != _RELEASED:
                continue
            financial = claim.financial_details
            docs = getattr(financial, "ap_documents", ())
            rows = [
                (d.type, d.ref_nbr)
                for d in (docs if isinstance(docs, tuple) else ())
                if isinstance(d.type, str) and isinstance(d.ref_nbr, str)
            ]
            if rows and all(
                d.status == _PAID_STATUS for d in (docs if isinstance(docs, tuple) else ())
            ):
                candidates[ref] = rows
    wanted = sorted({number for rows in candidates.values() for _, number in rows})
    closed: set[tuple[str, str]] = set()
    for start in range(0, len(wanted), page_size):
        page = wanted[start : start + page_size]
        for bill in client.list(
            Bill,
            filter=Field("ReferenceNbr").in_(page),
            select=("Type", "ReferenceNbr", "Status", "Balance"),
        ):
            if (
                isinstance(bill.type, str)
                and isinstance(bill.reference_nbr, str)
                and _is_paid(bill)
            ):
                closed.add((bill.type, bill.reference_nbr))
    return {
        ref: ", ".join(f"{kind} {number}" for kind, number in rows)
        for ref, rows in candidates.items()
        if all(row in closed for row in rows)
    }


@attrs.frozen
class _Due:
    kind: str  # "bill" | "claim"
    key: str  # the bill's VendorRef key, or the claim's RefNbr
    number: str  # the stored document number ("Bill 000123", "Claim 000045")


def _due(store: StateStore, connection: str, now: datetime) -> dict[str, _Due]:
    """Report -> its acknowledged reimbursable bill or claim, for reports not marked.

    Only reports acknowledged within :data:`PAYMENT_LOOKBACK` of ``now``.
    """
    due: dict[str, _Due] = {}
    for record in store.with_status(connection, ReportStatus.ACKNOWLEDGED):
        if record.updated_at is not None and record.updated_at < now - PAYMENT_LOOKBACK:
            continue
        docs = [
            d
            for d in record.documents
            if d.kind in ("bill", "claim")
            and (parsed := parse_key(d.key)) is not None
            and parsed[1] is DocumentPart.REIMBURSABLE
        ]
        if not docs:
            continue
        trail = store.audit_trail(record.report_id, connection)
        if any(e.step == STEP and e.outcome in FINAL for e in trail):
            continue
        doc = docs[0]
        if doc.kind == "claim":
            due[record.report_id] = _Due(
                "claim", doc.number.removeprefix(_CLAIM_PREFIX), doc.number
            )
        else:
            due[record.report_id] = _Due("bill", doc.key, doc.number)
    return due


def sync_payments(
    config: BridgeConfig,
    *,
    acumatica: AcumaticaClient,
    expensify: ExpensifyClient,
    store: StateStore,
    run_id: str,
    clock: Callable[[], datetime],
) -> PaymentSync:
    """Mark reports whose bills are paid as reimbursed in Expensify (see the module doc).

    Does nothing unless ``rules.mark_reimbursed_when_paid`` and the accrual trigger.
    Failures are returned in :attr:`PaymentSync.errors`, never raised.
    """
    rules = config.rules
    if not rules.mark_reimbursed_when_paid or rules.trigger is not Trigger.APPROVED:
        return PaymentSync()
    connection = config.connection
    acu_start, exp_start = acumatica.calls, expensify.calls

    def audit(rid: str, outcome: str, *, document: str | None = None,
              detail: str | None = None) -> None:  # fmt: skip
        store.audit(
            AuditEntry(
                at=clock(),
                run_id=run_id,
                report_id=rid,
                step=STEP,
                outcome=outcome,
                document=document,
                detail=detail,
            ),
            connection,
        )

    def counts() -> CallCounts:
        return CallCounts(
            acumatica=acumatica.calls - acu_start, expensify=expensify.calls - exp_start
        )

    due = _due(store, connection, clock())
    if not due:
        return PaymentSync()
    try:
        bill_keys = [d.key for d in due.values() if d.kind == "bill"]
        claim_refs = [d.key for d in due.values() if d.kind == "claim"]
        paid: dict[str, str] = {}
        if bill_keys:
            for key in paid_bills(acumatica, bill_keys, page_size=config.page_size):
                paid[f"bill:{key}"] = f"{_PAID_STATUS}, balance 0"
        if claim_refs:
            for ref, docs in paid_claims(acumatica, claim_refs, page_size=config.page_size).items():
                paid[f"claim:{ref}"] = (
                    f"released; its AP documents {docs} are {_PAID_STATUS}, balance 0"
                )
    except AcumaticaError as exc:
        return PaymentSync(
            checked=len(due),
            errors=(f"payment status look-up failed: {type(exc).__name__}: {exc}",),
            calls=counts(),
        )
    to_mark = sorted(rid for rid, d in due.items() if f"{d.kind}:{d.key}" in paid)
    if not to_mark:
        return PaymentSync(checked=len(due), calls=counts())
    for rid in to_mark:
        d = due[rid]
        audit(
            rid, "marking", document=d.number, detail=f"{d.number} is {paid[f'{d.kind}:{d.key}']}"
        )
    try:
        answer = expensify.mark_reimbursed(to_mark)
    except ExpensifyError as exc:
        for rid in to_mark:
            audit(rid, "failed", detail=type(exc).__name__)
        return PaymentSync(
            checked=len(due),
            errors=(f"marking reports reimbursed failed: {type(exc).__name__}: {exc}",),
            calls=counts(),
        )
    marked = [r for r in answer.reimbursed if r in due]
    already: list[str] = []
    skipped: list[tuple[str, str]] = []
    for rid in marked:
        audit(rid, "marked reimbursed", document=due[rid].number)
    for issue in answer.skipped:
        if issue.report_id not in due:
            continue
        if _ALREADY in issue.reason.lower():
            already.append(issue.report_id)
            audit(issue.report_id, "already reimbursed", detail=issue.reason)
        else:
            skipped.append((issue.report_id, issue.reason))
            audit(issue.report_id, "skipped", detail=issue.reason)
    errors = tuple(
        f"report {issue.report_id} not marked reimbursed: {issue.reason}" for issue in answer.failed
    )
    for issue in answer.failed:
        audit(issue.report_id, "failed", detail=issue.reason)
    if marked:
        logger.info("payments: %d report(s) marked reimbursed", len(marked))
    return PaymentSync(
        checked=len(due),
        marked=tuple(marked),
        already=tuple(already),
        skipped=tuple(skipped),
        errors=errors,
        calls=counts(),
    )


def with_payment_sync(
    config: BridgeConfig,
    result: SyncResult,
    *,
    acumatica: AcumaticaClient,
    expensify: ExpensifyClient,
    store: StateStore,
    clock: Callable[[], datetime],
) -> SyncResult:
    """``result`` after the payment sync-back step (none on a dry run or when disabled).

    The step's failures join ``result.errors`` (so the run is not ``ok`` and is
    notified); its calls join ``result.calls``; what it marked is in the audit trail
    (step ``reimburse``) and in ``result.warnings`` as one line.
    """
    if result.dry_run:
        return result
    step = sync_payments(
        config,
        acumatica=acumatica,
        expensify=expensify,
        store=store,
        run_id=result.run_id,
        clock=clock,
    )
    if step == PaymentSync():
        return result
    lines: Iterable[str] = ()
    if step.marked or step.already or step.skipped:
        lines = (
            f"payments: marked reimbursed in Expensify: {', '.join(step.marked) or 'none'}"
            + (f"; already reimbursed: {', '.join(step.already)}" if step.already else "")
            + (
                "; not marked: " + ", ".join(f"{r} ({why})" for r, why in step.skipped)
                if step.skipped
                else ""
            ),
        )
    return attrs.evolve(
        result,
        errors=(*result.errors, *step.errors),
        warnings=(*result.warnings, *lines),
        calls=CallCounts(
            acumatica=result.calls.acumatica + step.calls.acumatica,
            expensify=result.calls.expensify + step.calls.expensify,
        ),
    )
