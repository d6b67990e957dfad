"""Idempotent posting of one report: intent first, look before create, record after.

Acumatica has no idempotency key, so the bridge makes one (see :mod:`._keys`) and follows
one protocol for every document of a report:

1. take the report's lease in the store (two workers never post the same report);
2. re-read the report's state *after* taking the lease: posted already -> nothing to do
   (or held with ``CHANGED_AFTER_POSTING`` when its content changed since);
3. record the intent (``POSTING``, with the export snapshot and fingerprint) **before** any
   write;
4. if the key was found in Acumatica, adopt that document; else create it (one PUT);
5. record the document number, then ``POSTED``.

A crash or a lost answer anywhere leaves the report ``POSTING`` or ``PLANNED``; the next
run looks the key up first and adopts what exists, so the run converges on exactly one
document per key. A rejected create (Acumatica validation) holds the report with
``LEDGER_REJECTED`` and the field messages; a transient failure leaves it for the next run.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ALL_COMPLETED, FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import attrs

from acumatica_client import (
    AcumaticaError,
    APIConnectionError,
    BadRequestError,
    Bill,
    ConflictError,
    ExpenseClaim,
    InternalServerError,
    JournalTransaction,
    RateLimitError,
    UnprocessableEntityError,
    ValidationError,
)
from expensify_client import (
    Category,
    ExpensifyError,
    Policy,
    Report,
    UnparsedReport,
    cents_to_decimal,
)

from ._catalog import LedgerCatalog
from ._claims import CLAIM_ACTION_SETTLE, ClaimActionRunningError, plan_with_claims
from ._errors import ErrorCode, MappingError, Problem
from ._keys import DocumentKind, DocumentPart
from ._ledger import NoDocumentNumberError
from ._periods import with_periods
from ._ports import ExpenseSource, Ledger, LedgerDocument
from ._receipts import ReceiptFetcher, attach_receipts, attached_names, pending
from ._report_pdf import REPORT_PDF_STEP, ReportPdfFetcher, attach_report_pdf
from ._results import Action, ReportOutcome
from ._rules import CardTarget, ClaimStage, PostingRules, ReceiptTarget
from ._store import (
    AuditEntry,
    DocumentRecord,
    ReportRecord,
    ReportStatus,
    StateStore,
    batched,
    claim_reports,
    read_reports,
)
from ._tax import plan_with_tax
from .mapping import (
    DEBIT_ADJUSTMENT_TYPE,
    PlannedDocument,
    content_fingerprint,
    conversion_rates,
    plan_report,
)

__all__ = [
    "PostingContext",
    "document_lines",
    "plan_or_hold",
    "policy_from_export",
    "post_batch",
    "post_planned",
    "posting_concurrency",
    "problem_dicts",
    "retry_receipts",
    "retry_report_pdfs",
    "settled",
]

logger = logging.getLogger(__name__)

#: Called at each step boundary with (step, report_id); tests raise from it to simulate
#: crashes or run another worker in between. Steps: "claimed" (lease taken or taken
#: again), "looked_up" (its keys looked up after that claim), "intent", "created",
#: "recorded", "posted".
StepHook = Callable[[str, str], None]


def _no_hook(step: str, report_id: str) -> None:
    return None


@attrs.define(kw_only=True)
class PostingContext:
    """Everything one run needs to post reports (shared by all reports of the run)."""

    connection: str
    rules: PostingRules
    ledger: Ledger
    store: StateStore
    run_id: str
    clock: Callable[[], datetime]
    owner: str = attrs.field(factory=lambda: uuid.uuid4().hex)
    lease_seconds: float = 600.0
    on_step: StepHook = _no_hook
    #: Downloads receipts when ``rules.attach_receipts`` (None: receipts are not attached).
    receipts: ReceiptFetcher | None = None
    #: Exports the report PDF when ``rules.attach_report_pdf`` (None: not attached).
    report_pdf: ReportPdfFetcher | None = None
    #: Reports posted at once (worker threads; 1: one after the other, no thread). See
    #: :func:`posting_concurrency` for how a sync chooses it from the licence.
    concurrency: int = attrs.field(default=1, validator=attrs.validators.ge(1))

    def audit(
        self,
        report_id: str,
        step: str,
        outcome: str,
        *,
        document: str | None = None,
        error_code: str | None = None,
        detail: str | None = None,
        digest: str | None = None,
    ) -> None:
        """Append one audit entry (never a secret: IDs, numbers, codes, digests)."""
        self.store.audit(
            AuditEntry(
                at=self.clock(),
                run_id=self.run_id,
                report_id=report_id,
                step=step,
                outcome=outcome,
                document=document,
                error_code=error_code,
                detail=detail,
                digest=digest,
            ),
            self.connection,
        )


def problem_dicts(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    """Problems as stored in the state store."""
    return [
        {"code": p.code.value, "field": p.field, "message": p.message, "fix": p.fix,
         "transaction_id": p.transaction_id}
        for p in problems
    ]  # fmt: skip


def policy_from_export(report: Report) -> Policy:
    """A stand-in policy built from the category GL codes exported with the report.

    Used by :func:`expense_bridge.post_report` when no policy is passed: the export's
    ``categoryGlCode`` values are then the mapping's source of GL codes.
    """
    seen: dict[str, Category] = {}
    for expense in report.expenses:
        if expense.category and expense.category not in seen:
            seen[expense.category] = Category(
                name=expense.category, gl_code=expense.category_gl_code
            )
    return Policy(policy_id=report.policy_id, categories=tuple(seen.values()))


def _digest(planned: PlannedDocument, sent: Sequence[bytes]) -> str:
    """The audit digest of a create: of the body bytes sent (``sent``: what the ledger's
    ``on_body`` got), else -- a ledger that hands over no body -- of the document encoded."""
    if sent:
        return hashlib.sha256(sent[-1]).hexdigest()[:16]
    from acumatica_client import dumps, to_wire

    return hashlib.sha256(dumps(to_wire(planned.document))).hexdigest()[:16]


def _hold(
    ctx: PostingContext,
    report: Report,
    problems: Sequence[Problem],
    *,
    step: str,
) -> ReportOutcome:
    now = ctx.clock()
    with batched(ctx.store):  # the status and its audit lines: one commit
        ctx.store.set_status(ctx.connection, report.report_id, ReportStatus.HELD, now,
                             problem_dicts(problems))  # fmt: skip
        for problem in problems:
            ctx.audit(report.report_id, step, "held", error_code=problem.code.value,
                      detail=f"{problem.field}: {problem.message}")  # fmt: skip
    return ReportOutcome(
        report_id=report.report_id,
        action=Action.HELD,
        status=ReportStatus.HELD,
        problems=tuple(problems),
    )


def plan_or_hold(
    ctx: PostingContext | None,
    report: Report,
    *,
    policy: Policy,
    catalog: LedgerCatalog,
    rules: PostingRules,
    posting_date: date,
    fingerprint: str | None = None,
) -> tuple[PlannedDocument, ...] | ReportOutcome:
    """Plan a report; a mapping error holds it (recorded unless ``ctx`` is None: dry run).

    ``fingerprint``: ``content_fingerprint(report)`` when the caller computed it already
    (None: computed here), so a run hashes each report's content once.
    """
    if fingerprint is None:
        fingerprint = content_fingerprint(report)
    try:
        planned = plan_with_claims(
            lambda: plan_with_tax(
                lambda: plan_report(
                    report,
                    policy=policy,
                    catalog=catalog,
                    rules=rules,
                    posting_date=posting_date,
                    fingerprint=fingerprint,
                ),
                report,
                rules,
            ),
            report,
            rules,
            catalog,
        )
        planned = with_periods(planned, catalog.periods, rules.closed_period, report.report_id)
        return _checked_total(report, planned, rules)
    except MappingError as exc:
        if ctx is None:
            return ReportOutcome(
                report_id=report.report_id,
                action=Action.HELD,
                status=None,
                problems=exc.problems,
            )
        ctx.store.save_snapshot(ctx.connection, report, fingerprint, ctx.clock())
        return _hold(ctx, report, exc.problems, step="plan")


def _checked_total(
    report: Report, plan: tuple[PlannedDocument, ...], rules: PostingRules
) -> tuple[PlannedDocument, ...]:
    mismatch = total_problem(report, plan, rules)
    if mismatch is not None:
        raise MappingError(report.report_id, (mismatch,))
    return plan


def total_problem(
    report: Report, planned: Sequence[PlannedDocument], rules: PostingRules
) -> Problem | None:
    """``TOTAL_MISMATCH`` when the planned lines do not add up to the report's total.

    The report total (``total``, in the report currency: converted amounts, refunds
    negative) must equal the sum of the planned documents' signed nets. Checked only when
    every expense is carried by some document (card spend skipped by the rules is not).
    """
    if rules.card_target is CardTarget.SKIP and any(not e.reimbursable for e in report.expenses):
        return None
    try:
        expected = cents_to_decimal(report.total_cents, report.currency)
    except ExpensifyError:
        return None  # the mapping already judged the currency
    planned_total = sum((p.total for p in planned), start=Decimal(0))
    if planned_total == expected:
        return None
    return Problem(
        code=ErrorCode.TOTAL_MISMATCH,
        field="total",
        message=(
            f"report {report.report_id} totals {expected} {report.currency} in Expensify but "
            f"its planned lines add up to {planned_total} {report.currency}; nothing is posted"
        ),
        fix=(
            "Check the report's expenses in Expensify (a missing, hidden or re-converted "
            "expense), correct it, then run 'expense-bridge replay' for this report."
        ),
    )


def _changed(report: Report, stored_fingerprint: str) -> Problem:
    return Problem(
        code=ErrorCode.CHANGED_AFTER_POSTING,
        field="report",
        message=(
            f"report {report.report_id} changed after it was posted (re-opened and "
            "re-approved); it is not posted a second time"
        ),
        fix=(
            "Compare the Acumatica document with the report, correct the document by hand "
            "(or reverse it), then mark the report exported in Expensify."
        ),
    )


def _state(record: ReportRecord | None, fingerprint: str) -> Literal["posted", "changed"] | None:
    """``posted``: nothing left to do; ``changed``: content differs from what was (even
    partly) posted; None: (re)post it -- documents already recorded are reused."""
    if record is None:
        return None
    posted = record.status in (ReportStatus.POSTED, ReportStatus.ACKNOWLEDGED)
    if (posted or record.documents) and record.fingerprint not in (None, fingerprint):
        return "changed"
    return "posted" if posted else None


_UNREAD: Any = object()  # settled(record=...) not given: read it


def settled(
    ctx: PostingContext | None,
    report: Report,
    *,
    store: StateStore,
    connection: str,
    record: ReportRecord | None = _UNREAD,
    fingerprint: str | None = None,
) -> ReportOutcome | None:
    """The outcome of a report the store already settled, or None when it needs posting.

    Checked before the report is mapped, so a posted report is never re-planned (its
    stored fingerprint and snapshot stay those of the posted content): unchanged ->
    ``ALREADY_POSTED``; content changed since it was posted -> held with
    ``CHANGED_AFTER_POSTING`` (recorded unless ``ctx`` is None: dry run). Posting itself
    checks again after taking the report's lease (another worker may have posted it).
    ``record``: the report's stored record when the caller read it already (None: none);
    ``fingerprint``: ``content_fingerprint(report)`` when the caller computed it already.
    """
    if record is _UNREAD:
        record = store.get(connection, report.report_id)
    if record is None:
        return None
    if fingerprint is None:
        fingerprint = content_fingerprint(report)
    state = _state(record, fingerprint)
    if state is None:
        return None
    if state == "changed" and record.fingerprint is not None:
        if ctx is None:
            return ReportOutcome(
                report_id=report.report_id,
                action=Action.HELD,
                status=None,
                problems=(_changed(report, record.fingerprint),),
            )
        return _hold(ctx, report, [_changed(report, record.fingerprint)], step="check")
    return ReportOutcome(
        report_id=report.report_id,
        action=Action.ALREADY_POSTED,
        status=record.status,
        documents=tuple(d.number for d in record.documents),
    )


def posting_concurrency(requested: int | None, licensed: int | None) -> int:
    """How many reports a run posts at once.

    ``requested`` is ``rules.posting_concurrency`` (None: not set), ``licensed`` the
    licence's ``max_concurrent`` (None: the licence sets none). The licence's figure is
    used unless the option lowers it; the option never raises it. With neither, reports
    are posted one after the other (1).
    """
    if requested is None:
        return licensed or 1
    return max(1, min(requested, licensed) if licensed is not None else requested)


# A claimed report: its plan, when it was claimed, its record as read with the claim
# (_UNREAD: read it when posting).
_Claimed = tuple[Report, Sequence[PlannedDocument], datetime, Any]


def _claim_page(
    ctx: PostingContext,
    page: Sequence[tuple[Report, Sequence[PlannedDocument]]],
    outcomes: dict[str, ReportOutcome],
) -> tuple[list[_Claimed], Mapping[str, LedgerDocument]]:
    """Claim a page, then look up its keys (the look-up is newer than every claim).

    The page is claimed in one store transaction that also reads each claimed report's
    record (:func:`~._store.claim_reports`), so posting needs no second read. Reports
    another worker holds are skipped; when the look-up fails transiently, every claimed
    report is left pending and released, and nothing is returned to post.
    """
    claimed: list[_Claimed] = []
    records: dict[str, ReportRecord | None] = {}
    try:
        at = ctx.clock()
        records = claim_reports(ctx.store, ctx.connection,
                                [report.report_id for report, _ in page], ctx.owner, at,
                                ctx.lease_seconds)  # fmt: skip
        unread: set[str] = set()
        for report, planned in page:
            rid = report.report_id
            if rid in records:
                # The record read with the claim serves the first posting of a report
                # only (a report listed twice is read again, after the first is posted).
                record = _UNREAD if rid in unread else records[rid]
                unread.add(rid)
                claimed.append((report, planned, at, record))
                ctx.on_step("claimed", rid)
            else:
                outcomes[rid] = _skipped(ctx, rid)
        keys = [(d.kind, d.key) for _, planned, _, _ in claimed for d in planned]
        existing: Mapping[str, LedgerDocument] = {}
        if keys:
            try:
                existing = ctx.ledger.find_documents(keys)
            except _TRANSIENT as exc:
                for report, _, _, _ in claimed:
                    outcomes[report.report_id] = _pending(ctx, report.report_id, exc)
                claimed_now, claimed = claimed, []
                for report, _, _, _ in claimed_now:
                    ctx.store.release(ctx.connection, report.report_id, ctx.owner)
                return [], {}
        for report, _, _, _ in claimed:
            ctx.on_step("looked_up", report.report_id)
    except BaseException:
        for rid in records:  # every report the page claimed
            ctx.store.release(ctx.connection, rid, ctx.owner)
        raise
    return claimed, existing


def post_batch(
    ctx: PostingContext,
    items: Sequence[tuple[Report, Sequence[PlannedDocument]]],
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, ReportOutcome]:
    """Post planned reports, a page at a time: claim the page, look it up, post each.

    The existence look-up of a page is sent *after* its reports are claimed, so every
    create is sent by the holder of the report's lease with a look-up newer than its
    claim, whatever an earlier look-up said: a document another run created before we
    took the lease is found and adopted, never created twice. A page holds at most
    ``page_size`` reports (one look-up per page of keys and kind).

    With ``ctx.concurrency`` above 1 the claimed reports of a page are posted by that
    many worker threads, and the next page is claimed and looked up while the current
    one is posted (at most one page ahead), so the licence's concurrent requests stay
    busy. Each report is still posted by one thread under its own lease; ``on_step``
    hooks run in the worker threads; ``progress`` is called under a lock, one call at a
    time, with a count that only grows. A worker that raises anything but a transient
    ledger error stops the run: reports not yet started are released and not posted,
    those already started finish, and the first error is raised.
    """
    if ctx.concurrency > 1 and len(items) > 1:
        return _post_concurrently(ctx, items, progress)
    outcomes: dict[str, ReportOutcome] = {}
    size = max(1, getattr(ctx.ledger, "page_size", 50))
    done = 0
    for start in range(0, len(items), size):
        claimed, existing = _claim_page(ctx, items[start : start + size], outcomes)
        try:
            for report, planned, at, record in claimed:
                outcomes[report.report_id] = _post_claimed(
                    ctx, report, planned, existing, at, record
                )
                done += 1
                if progress is not None:
                    progress("post", done, len(items))
        finally:
            for report, _, _, _ in claimed:
                ctx.store.release(ctx.connection, report.report_id, ctx.owner)
    return outcomes


def _post_concurrently(
    ctx: PostingContext,
    items: Sequence[tuple[Report, Sequence[PlannedDocument]]],
    progress: Callable[[str, int, int], None] | None,
) -> dict[str, ReportOutcome]:
    """:func:`post_batch` with ``ctx.concurrency`` worker threads (see there)."""
    outcomes: dict[str, ReportOutcome] = {}
    size = max(1, getattr(ctx.ledger, "page_size", 50))
    lock = threading.Lock()
    done = 0
    failed = threading.Event()

    def post_one(
        report: Report,
        planned: Sequence[PlannedDocument],
        existing: Mapping[str, LedgerDocument],
        at: datetime,
        record: Any,
    ) -> None:
        nonlocal done
        rid = report.report_id
        try:
            if failed.is_set():
                return  # the run is stopping: not started, released below
            outcome = _post_claimed(ctx, report, planned, existing, at, record)
        except BaseException:
            failed.set()
            raise
        finally:
            ctx.store.release(ctx.connection, rid, ctx.owner)
        with lock:
            outcomes[rid] = outcome
            done += 1
            if progress is not None:
                progress("post", done, len(items))

    pages = [items[start : start + size] for start in range(0, len(items), size)]
    running: list[Future[None]] = []  # the page being posted (the next one queues behind)
    with ThreadPoolExecutor(
        max_workers=ctx.concurrency, thread_name_prefix="expense-bridge-post"
    ) as pool:
        try:
            for page in pages:
                if failed.is_set():
                    break
                page_outcomes: dict[str, ReportOutcome] = {}
                claimed, existing = _claim_page(ctx, page, page_outcomes)
                with lock:
                    outcomes.update(page_outcomes)
                submitted = [
                    # Each task runs in a copy of the caller's context (context variables).
                    pool.submit(
                        contextvars.copy_context().run, post_one, r, p, existing, at, record
                    )
                    for r, p, at, record in claimed
                ]
                # Keep one page ahead: wait for the page before this one to finish.
                _settle(running, stop_on_error=True)
                running = submitted
            _settle(running, stop_on_error=False)
        except BaseException:
            failed.set()  # tasks not started yet only release their report
            raise
    return outcomes


def _settle(futures: Sequence[Future[None]], *, stop_on_error: bool) -> None:
    """Wait for ``futures``; raise the first error a worker raised."""
    if not futures:
        return
    finished, _ = wait(futures, return_when=FIRST_EXCEPTION if stop_on_error else ALL_COMPLETED)
    for future in futures:
        error = future.exception() if future in finished else None
        if error is not None:
            raise error


def post_planned(
    ctx: PostingContext, report: Report, planned: Sequence[PlannedDocument]
) -> ReportOutcome:
    """Post one planned report idempotently (claim, look up, then create what is missing)."""
    return post_batch(ctx, [(report, planned)])[report.report_id]


_TRANSIENT = (APIConnectionError, RateLimitError, InternalServerError, ConflictError,
              NoDocumentNumberError, ClaimActionRunningError)  # fmt: skip


def _skipped(ctx: PostingContext, rid: str) -> ReportOutcome:
    ctx.audit(rid, "claim", "skipped", detail="another worker holds this report")
    return ReportOutcome(report_id=rid, action=Action.SKIPPED, status=None,
                         detail="another worker is posting this report")  # fmt: skip


def _pending(ctx: PostingContext, rid: str, exc: Exception) -> ReportOutcome:
    logger.warning("report %s: %s; it will be retried next run", rid, type(exc).__name__)
    ctx.audit(rid, "create", "unknown outcome", detail=type(exc).__name__)
    return ReportOutcome(
        report_id=rid,
        action=Action.PENDING,
        status=ReportStatus.POSTING,
        detail=f"{type(exc).__name__}: retried (look-up first) next run",
    )


def _post_claimed(
    ctx: PostingContext,
    report: Report,
    planned: Sequence[PlannedDocument],
    existing: Mapping[str, LedgerDocument],
    claimed_at: datetime,
    record: ReportRecord | None = _UNREAD,
) -> ReportOutcome:
    """Post one report whose lease we took at ``claimed_at``; ``existing`` was looked up
    after that claim; ``record``: the report's record as read with that claim (not
    given: read now). It is read again when the lease may have lapsed since.

    One unit of work of the store (:func:`~._store.batched`): the intent (snapshot,
    POSTING, its audit line) is one durable commit before the first create, each document
    number (with its audit line) one durable commit right after its create answers, and
    the rest (POSTED, audit lines, a hold) one commit when the report is done.
    """
    with batched(ctx.store):
        return _post_claimed_now(ctx, report, planned, existing, claimed_at, record)


def _post_claimed_now(
    ctx: PostingContext,
    report: Report,
    planned: Sequence[PlannedDocument],
    existing: Mapping[str, LedgerDocument],
    claimed_at: datetime,
    record: ReportRecord | None,
) -> ReportOutcome:
    rid = report.report_id
    # The plan carries the report's fingerprint (computed once when it was planned).
    fingerprint = planned[0].fingerprint if planned else content_fingerprint(report)
    try:
        if record is _UNREAD or _lapsed(ctx, claimed_at):
            record = ctx.store.get(ctx.connection, rid)
        state = _state(record, fingerprint)
        if state == "changed" and record is not None:
            return _hold(ctx, report, [_changed(report, record.fingerprint or "")], step="check")
        if state == "posted" and record is not None:
            return ReportOutcome(
                report_id=rid,
                action=Action.ALREADY_POSTED,
                status=record.status,
                documents=tuple(d.number for d in record.documents),
            )
        if not planned:
            ctx.store.save_snapshot(ctx.connection, report, fingerprint, ctx.clock())
            ctx.store.set_status(ctx.connection, rid, ReportStatus.POSTED, ctx.clock())
            ctx.audit(rid, "plan", "nothing to post", detail="every expense is skipped card spend")
            return ReportOutcome(report_id=rid, action=Action.SKIPPED, status=ReportStatus.POSTED,
                                 detail="nothing to post")  # fmt: skip

        known = {d.key: d for d in (record.documents if record else ())}
        earlier = None if record is None else record.fingerprint
        # Adopt only what matches: every document found by key is compared with what the
        # mapping writes now, before the new content is recorded as the report's intent.
        checked: dict[str, LedgerDocument] = {}
        for document in planned:
            found = existing.get(document.key)
            if document.key not in known and found is not None:
                mismatch = _mismatch(ctx, report, document, found, earlier, fingerprint)
                if mismatch is not None:
                    return _hold(ctx, report, [mismatch], step="lookup")
                checked[document.key] = found
        # Snapshot and audit line are queued; the POSTING write commits them with it,
        # durably, before anything below can reach Acumatica.
        ctx.store.save_snapshot(ctx.connection, report, fingerprint, ctx.clock())
        ctx.audit(rid, "intent", "recorded", detail=", ".join(p.key for p in planned))
        if rates := conversion_rates(report):  # the rates the amounts were converted at
            ctx.audit(rid, "rates", "recorded", detail=rates)
        ctx.store.set_status(ctx.connection, rid, ReportStatus.POSTING, ctx.clock())
        ctx.on_step("intent", rid)
        numbers: list[str] = []
        recorded: list[LedgerDocument] = []
        warnings: list[str] = []
        created = 0
        for document in planned:
            if document.key in known:
                numbers.append(known[document.key].number)
                recorded.append(_known_doc(known, document))
                warnings += _after_document(ctx, report, document, recorded[-1])
                continue
            found = existing.get(document.key)
            if found is None and _lapsed(ctx, claimed_at):
                # Our lease may have lapsed (and been taken and given back) since the
                # look-up: take it again and look again before creating anything.
                claimed_at = ctx.clock()
                if not ctx.store.claim(ctx.connection, rid, ctx.owner, claimed_at,
                                       ctx.lease_seconds):  # fmt: skip
                    return _skipped(ctx, rid)
                ctx.on_step("claimed", rid)
                # Every key of the report, not only this one: what the old look-up said
                # about the others is as stale as what it said about this one.
                keys = [(d.kind, d.key) for d in planned if d.key not in known]
                existing = dict(ctx.ledger.find_documents(keys))
                ctx.audit(rid, "lookup", "repeated", detail="lease renewed before a create")
                ctx.on_step("looked_up", rid)
                found = existing.get(document.key)
            if found is not None and checked.get(document.key) != found:
                mismatch = _mismatch(ctx, report, document, found, None, fingerprint)
                if mismatch is not None:
                    return _hold(ctx, report, [mismatch], step="lookup")
            if found is not None:
                doc = found
                ctx.audit(rid, "lookup", "adopted", document=doc.number, detail=document.key)
            else:
                sent: list[bytes] = []
                try:
                    doc = ctx.ledger.create(document, on_body=sent.append)
                except (ValidationError, UnprocessableEntityError, BadRequestError) as exc:
                    problem = _rejected(document, exc)
                    return _hold(ctx, report, [problem], step="create")
                created += 1
                ctx.on_step("created", rid)
                ctx.audit(rid, "create", "created", document=doc.number, detail=document.key,
                          digest=_digest(document, sent))  # fmt: skip
            ctx.store.add_document(ctx.connection, rid, _doc_record(document, doc), ctx.clock())
            ctx.on_step("recorded", rid)
            numbers.append(doc.number)
            recorded.append(doc)
            if ctx.rules.release and doc.kind in (DocumentKind.BILL, DocumentKind.JOURNAL):
                _release(ctx, rid, doc)
            warnings += _after_document(ctx, report, document, doc)
        # The report PDF: one export for all of the report's documents (see _report_pdf).
        warnings += _attach_report_pdf(ctx, rid, recorded)
        ctx.store.set_status(ctx.connection, rid, ReportStatus.POSTED, ctx.clock())
        ctx.audit(rid, "post", "posted", document=", ".join(numbers))
        ctx.on_step("posted", rid)
        total = sum((p.total for p in planned), start=planned[0].total * 0)
        return ReportOutcome(
            report_id=rid,
            action=Action.POSTED if created else Action.ADOPTED,
            status=ReportStatus.POSTED,
            documents=tuple(numbers),
            total=f"{total} {planned[0].currency}",
            warnings=tuple(warnings),
        )
    except _TRANSIENT as exc:
        return _pending(ctx, rid, exc)


def _lapsed(ctx: PostingContext, claimed_at: datetime) -> bool:
    """Whether our lease may have run out (a tenth of it is kept as a safety margin)."""
    elapsed = (ctx.clock() - claimed_at).total_seconds()
    return elapsed >= ctx.lease_seconds * 0.9


Document = Bill | JournalTransaction | ExpenseClaim


def document_lines(document: Document) -> tuple[tuple[str, Decimal], ...]:
    """What a document posts, as the bridge compares it: sorted ``(account, amount)``.

    Bill lines count their ``ExtendedCost`` (else ``Amount``), negated for a Debit Adj.;
    journal lines count debit minus credit; expense claim lines their ``Amount`` on their
    ``ExpenseAccount``. Amounts are normalised (``12.30 == 12.3``).
    """
    lines: list[tuple[str, Decimal]] = []
    if isinstance(document, Bill):
        sign = -1 if document.type == DEBIT_ADJUSTMENT_TYPE else 1
        for bill_line in document.details or ():
            amount = _dec(bill_line.extended_cost)
            if amount is None:
                amount = _dec(bill_line.amount) or Decimal(0)
            lines.append((str(bill_line.account or ""), sign * amount))
    elif isinstance(document, ExpenseClaim):
        for claim_line in document.details or ():
            amount = _dec(claim_line.amount) or Decimal(0)
            lines.append((str(claim_line.expense_account or ""), amount))
    else:
        for gl_line in document.details or ():
            debit = _dec(gl_line.debit_amount) or Decimal(0)
            credit = _dec(gl_line.credit_amount) or Decimal(0)
            lines.append((str(gl_line.account or ""), debit - credit))
    return tuple(sorted((account, amount.normalize() + 0) for account, amount in lines))


def _dec(value: object) -> Decimal | None:
    return value if isinstance(value, Decimal) else None


def _signature(document: Document) -> tuple[object, ...]:
    party: object
    if isinstance(document, Bill):
        party = document.vendor
    elif isinstance(document, ExpenseClaim):
        party = document.claimed_by  # the claimant: a claim of another employee never matches
    else:
        party = document.module
    return (type(document).__name__, str(party or ""), str(document.currency_id or ""),
            document_lines(document))  # fmt: skip


def _gross(document: Document) -> Decimal:
    return sum((abs(a) for _, a in document_lines(document)), start=Decimal(0))


def _mismatch(
    ctx: PostingContext,
    report: Report,
    planned: PlannedDocument,
    found: LedgerDocument,
    earlier: str | None,
    fingerprint: str,
) -> Problem | None:
    """None when the document found by key posts what the mapping writes now."""
    saved = ctx.ledger.fetch(found)
    if _signature(saved) == _signature(planned.document):
        return None
    ours, theirs = _gross(planned.document), _gross(saved)
    changed = earlier is not None and earlier != fingerprint
    if changed:
        # An earlier attempt with other content created it: it belongs to the report.
        ctx.store.add_document(ctx.connection, report.report_id, _doc_record(planned, found),
                               ctx.clock())  # fmt: skip
    return Problem(
        code=ErrorCode.CHANGED_AFTER_POSTING if changed else ErrorCode.DOCUMENT_MISMATCH,
        field=f"document[{planned.key}]",
        message=(
            f"{found.number} found by key {planned.key} does not match report "
            f"{report.report_id} as it is now: the document posts {theirs} {planned.currency} "
            f"on {_accounts(saved)}, the report maps to {ours} {planned.currency} on "
            f"{_accounts(planned.document)}; it is neither adopted nor posted again"
        ),
        fix=(
            f"Compare {found.number} with the report in Expensify; correct or reverse the "
            "document in Acumatica, then run 'expense-bridge replay' for this report."
        ),
    )


def _accounts(document: Document) -> str:
    return ", ".join(sorted({a for a, _ in document_lines(document)})) or "no lines"


def _release(ctx: PostingContext, rid: str, doc: LedgerDocument) -> None:
    try:
        ctx.ledger.release(doc)
    except AcumaticaError as exc:
        ctx.audit(rid, "release", "failed", document=doc.number, detail=type(exc).__name__)
        return
    ctx.audit(rid, "release", "released", document=doc.number)


def _known_doc(known: Mapping[str, DocumentRecord], planned: PlannedDocument) -> LedgerDocument:
    record = known[planned.key]
    return LedgerDocument(key=planned.key, kind=DocumentKind(record.kind), number=record.number)


def _after_document(
    ctx: PostingContext, report: Report, planned: PlannedDocument, doc: LedgerDocument
) -> list[str]:
    """What follows a recorded document (created, adopted, or recorded by an earlier run
    of a report still ``POSTING``): an expense claim is taken to its stage; receipts are
    attached. Both are resumable: the claim's status is read before any action, and a
    receipt already recorded in the audit is not attached again. Returns warnings.

    A transient failure of a claim action propagates (the report stays ``POSTING`` and the
    next run resumes from the claim's status); an action Acumatica refuses is a warning.
    """
    warnings: list[str] = []
    if doc.kind is DocumentKind.CLAIM and ClaimStage.from_rules(ctx.rules) is not ClaimStage.HOLD:
        try:
            _advance_claim(ctx, report.report_id, doc)
        except _TRANSIENT:
            ctx.audit(report.report_id, "advance", "unknown outcome", document=doc.number)
            raise
        except AcumaticaError as exc:
            ctx.audit(report.report_id, "advance", "failed", document=doc.number,
                      detail=type(exc).__name__)  # fmt: skip
            warnings.append(f"{doc.number}: workflow action refused ({type(exc).__name__})")
        else:
            stage = ClaimStage.from_rules(ctx.rules).value
            ctx.audit(report.report_id, "advance", "advanced", document=doc.number, detail=stage)
    if ctx.rules.attach_receipts and ctx.receipts is not None:
        warnings += _attach_receipts(ctx, report, planned.part, planned.line_transactions, doc)
    return warnings


def _advance_claim(ctx: PostingContext, rid: str, doc: LedgerDocument) -> None:
    """Take a claim to its stage, each action's intent durably audited before it is sent
    (step ``advance``, outcome ``sending``, detail ``<action> from <status>``); intents
    since the claim's last completed advance and within :data:`CLAIM_ACTION_SETTLE` are
    the statuses whose action may still be running (see ``ClaimLedger.advance``)."""
    advance = getattr(ctx.ledger, "advance_claim", None)
    if advance is None:  # a ledger without the guard (test doubles)
        ctx.ledger.release(doc)
        return
    since = ctx.clock() - CLAIM_ACTION_SETTLE
    in_flight: set[str] = set()
    for entry in ctx.store.audit_trail(rid, ctx.connection):
        if entry.step != "advance" or entry.document != doc.number:
            continue
        if entry.outcome in ("advanced", "failed"):
            in_flight.clear()  # a completed (or refused) walk: nothing sent is unknown
        elif entry.outcome == "sending" and entry.at >= since and entry.detail:
            in_flight.add(entry.detail.partition(" from ")[2])

    def on_send(action: str, status: str) -> None:
        ctx.audit(rid, "advance", "sending", document=doc.number, detail=f"{action} from {status}")
        flush = getattr(ctx.store, "flush", None)
        if callable(flush):
            flush()  # durable before the action is sent

    advance(doc, in_flight=in_flight, on_send=on_send)


RECEIPT_STEP = "receipt"


def _attach_receipts(
    ctx: PostingContext,
    report: Report,
    part: DocumentPart,
    line_transactions: Sequence[Sequence[str]],
    doc: LedgerDocument,
) -> list[str]:
    """Attach the receipts of the document's expenses once (names recorded in the audit):
    on the header, or with ``rules.receipts_on = "line"`` on the line carrying each expense
    (``line_transactions``: the plan's), the header where a line has no ``files:put``."""
    rid = report.report_id
    attach = getattr(ctx.ledger, "attach_file", None)
    links_of = getattr(ctx.ledger, "links", None)
    if ctx.receipts is None or attach is None:
        return []
    done = attached_names(
        e.detail
        for e in ctx.store.audit_trail(rid, ctx.connection)
        if e.step == RECEIPT_STEP and e.outcome == "attached" and e.document == doc.number
    )
    reimbursable = part is DocumentPart.REIMBURSABLE
    expenses = [e for e in report.expenses if e.reimbursable is reimbursable]
    todo = pending(expenses, done)
    on_lines = ctx.rules.receipts_on is ReceiptTarget.LINE and callable(links_of)
    if not todo:
        if on_lines and links_of is not None:
            links_of(doc, read=False)  # forget the links this run's create brought
        return []
    lines: dict[str, tuple[int, Callable[[str, bytes], None]]] = {}
    if on_lines and links_of is not None:
        try:
            links, why = links_of(doc), None
        except AcumaticaError as exc:  # the document's read failed: the header still works
            links, why = None, f"its lines could not be read ({type(exc).__name__})"
        lines = _line_targets(ctx, rid, doc, line_transactions, links, todo, why)

    def put_file(name: str, content: bytes) -> None:
        attach(doc, name, content)

    result = attach_receipts(expenses, fetcher=ctx.receipts, put_file=put_file, done=done,
                             lines=lines)  # fmt: skip
    for name in result.attached:
        line = result.on_lines.get(name)
        detail = name if line is None else f"{name} on line {line}"
        ctx.audit(rid, RECEIPT_STEP, "attached", document=doc.number, detail=detail)
    for warning in result.warnings:
        ctx.audit(rid, RECEIPT_STEP, "warning", document=doc.number, detail=warning)
    return list(result.warnings)


def _line_targets(
    ctx: PostingContext,
    rid: str,
    doc: LedgerDocument,
    line_transactions: Sequence[Sequence[str]],
    links: Any,
    todo: Sequence[Any],
    why: str | None = None,
) -> dict[str, tuple[int, Callable[[str, bytes], None]]]:
    """transaction ID -> (line number, ``put_file`` through that line's ``files:put``);
    an expense left out goes to the header, with an ``on header`` audit line saying why."""
    attach_at = getattr(ctx.ledger, "attach_file_at", None)
    saved = links.details.get("Details", ()) if links is not None else ()
    targets: dict[str, tuple[int, Callable[[str, bytes], None]]] = {}
    if attach_at is None:
        why = "the ledger cannot attach to lines"
    elif why is None and len(saved) != len(line_transactions):
        why = f"the document has {len(saved)} lines, the plan {len(line_transactions)}"
    if why is not None:
        for expense in todo:
            ctx.audit(rid, RECEIPT_STEP, "on header", document=doc.number,
                      detail=f"transaction {expense.transaction_id}: {why}")  # fmt: skip
        return targets
    wanted = {e.transaction_id for e in todo}
    for index, tids in enumerate(line_transactions):
        for tid in tids:
            if tid not in wanted:
                continue
            link = saved[index]
            if link is None:
                why = f"transaction {tid}: line {index + 1} has no files:put link"
                ctx.audit(rid, RECEIPT_STEP, "on header", document=doc.number, detail=why)
                continue

            def put(name: str, content: bytes, link: str = link, at: Any = attach_at) -> None:
                at(link, name, content)

            targets[tid] = (index + 1, put)
    return targets


def _followups(ctx: PostingContext, step: str) -> dict[str, int]:
    """Reports of the connection whose ``step`` (``receipt``, ``report_pdf``) still has a
    warning to retry -> attempts made so far (syncs whose pass of that step ended with a
    warning); this run's own are left out."""
    followups = getattr(ctx.store, "receipt_followups", None)
    if not callable(followups):
        return {}
    found: dict[str, int] = followups(ctx.connection, ctx.run_id, step=step)
    return found


def _retry_due(
    ctx: PostingContext,
    step: str,
    what: str,
    attempt: Callable[[Mapping[str, ReportRecord]], Mapping[str, list[str] | None] | str],
) -> list[str]:
    """The bounded retry shared by receipts and the report PDF: the posted reports whose
    ``step`` last ended with a warning and has attempts left (``rules.receipt_attempts``
    syncs in all, the posting run included) are claimed (their lease), judged again on
    what was read after the claim, and handed to ``attempt`` (report ID -> record),
    which returns each report's warnings left (each already audited), None for a report
    it closed itself (audited ``abandoned``, e.g. changed after posting), or one warning
    when it could do nothing this time (then no attempt is counted). A report with
    nothing left is audited ``complete``; one still failing on its last attempt
    ``abandoned``. Never a re-post. Returns the warnings left."""
    limit = ctx.rules.receipt_attempts
    due = _followups(ctx, step)
    records = read_reports(ctx.store, ctx.connection, sorted(due))
    wanted = [
        rid for rid in sorted(due)
        if due[rid] < limit and rid in records
        and records[rid].status in (ReportStatus.POSTED, ReportStatus.ACKNOWLEDGED)
    ]  # fmt: skip
    if not wanted:
        return []
    claimed = claim_reports(ctx.store, ctx.connection, wanted, ctx.owner, ctx.clock(),
                            ctx.lease_seconds)  # fmt: skip
    warnings: list[str] = []
    try:
        if not claimed:
            return []
        # Judged again on what was read after the claim: another run may have posted
        # again, held, or finished this retry while we were reading.
        due = _followups(ctx, step)
        mine = {
            rid: record for rid, record in claimed.items()
            if record is not None and rid in due and due[rid] < limit
            and record.status in (ReportStatus.POSTED, ReportStatus.ACKNOWLEDGED)
        }  # fmt: skip
        if not mine:
            return []
        result = attempt(mine)
        if isinstance(result, str):
            return [result]
        for rid, left in result.items():
            if left is None:  # closed by the attempt, which audited why
                continue
            count = due[rid] + 1
            if left and count >= limit:
                why = f"{len(left)} {what}(s) not attached after {count} attempts"
                ctx.audit(rid, step, "abandoned", detail=why)
            elif not left:
                ctx.audit(rid, step, "complete", detail=f"attempt {count}")
            warnings += [f"report {rid}: {w} (attempt {count} of {limit})" for w in left]
    finally:
        for rid in claimed:
            ctx.store.release(ctx.connection, rid, ctx.owner)
    return warnings


def retry_receipts(
    ctx: PostingContext,
    source: ExpenseSource,
    states: Sequence[Any],
    *,
    policies: Mapping[str, Policy],
    catalog: LedgerCatalog,
    posting_date: date,
) -> list[str]:
    """Try again the receipts that ended as warnings on posted reports (see
    :mod:`._receipts`): at most ``rules.receipt_attempts`` syncs per report in all, the
    reports re-exported in one export for fresh receipt links, their documents never
    posted again, a receipt already attached never attached again. Each report is
    claimed (its lease) while it is worked on. Returns the warnings left."""
    if not ctx.rules.attach_receipts or ctx.receipts is None:
        return []

    def attempt(claimed: Mapping[str, ReportRecord]) -> dict[str, list[str] | None] | str:
        fresh = _exported_again(source, list(claimed), states, "receipt")
        if isinstance(fresh, str):
            return fresh
        return {
            rid: _retry_report(ctx, rid, record, fresh.get(rid), policies, catalog, posting_date)
            for rid, record in claimed.items()
        }

    return _retry_due(ctx, RECEIPT_STEP, "receipt", attempt)


def retry_report_pdfs(
    ctx: PostingContext, source: ExpenseSource, states: Sequence[Any]
) -> list[str]:
    """Try again the report PDFs that ended as warnings on posted reports (see
    :mod:`._report_pdf`), through the receipts' bounded retry (:func:`_retry_due`, the
    same ``rules.receipt_attempts``): the due reports are exported again in ``states``
    (one export for all of them, as the receipt retry does) and judged like receipts
    (:func:`_judged_again`: changed since posting -> ``abandoned``, a PDF of the new
    content must not go onto the documents of the old); the PDF of each of the others is
    exported and attached again to the documents that do not have it yet (the audit's
    ``attached`` lines), under the same name, never posting again. No report due: no
    Expensify call."""
    if not ctx.rules.attach_report_pdf or ctx.report_pdf is None:
        return []

    def attempt(claimed: Mapping[str, ReportRecord]) -> dict[str, list[str] | None] | str:
        fresh = _exported_again(source, list(claimed), states, "report PDF")
        if isinstance(fresh, str):
            return fresh
        left: dict[str, list[str] | None] = {}
        for rid, record in claimed.items():
            stop, left[rid] = _judged_again(ctx, REPORT_PDF_STEP, "report PDF", rid, record,
                                            fresh.get(rid))  # fmt: skip
            if not stop:
                left[rid] = _attach_report_pdf(ctx, rid, _documents(record))
        return left

    return _retry_due(ctx, REPORT_PDF_STEP, "report PDF", attempt)


def _documents(record: ReportRecord) -> list[LedgerDocument]:
    """The documents a report's record holds."""
    return [
        LedgerDocument(key=d.key, kind=DocumentKind(d.kind), number=d.number)
        for d in record.documents
    ]


def _exported_again(
    source: ExpenseSource, report_ids: list[str], states: Sequence[Any], what: str
) -> dict[str | None, Report | UnparsedReport] | str:
    """The reports due for a retry, exported again in one export (report ID -> report,
    or what the parser could not build), or the warning when the export failed."""
    try:
        exported = source.fetch_by_ids(report_ids, states)
    except ExpensifyError as exc:
        return f"{what} retry: the export failed ({type(exc).__name__})"
    return {r.report_id: r for r in exported}


def _judged_again(
    ctx: PostingContext,
    step: str,
    what: str,
    rid: str,
    record: ReportRecord,
    report: Report | UnparsedReport | None,
) -> tuple[bool, list[str] | None]:
    """Whether a retry of ``step`` on a posted report must stop before attaching anything,
    judged on the report as exported again (``report``; None: not in that export), and
    what it then leaves: missing from the export, or not readable there -> one warning
    (audited; tried again next sync); content changed since it was posted -> None
    (audited ``abandoned``: what it would attach belongs to content that was not
    posted). ``(False, [])``: go on."""
    if not isinstance(report, Report):
        why = (
            f"{what} retry: the report is not in the export (deleted or moved?)"
            if report is None
            else f"{what} retry: the report cannot be read from the export "
            f"({'; '.join(str(p) for p in report.problems)})"
        )
        ctx.audit(rid, step, "warning", detail=why)
        return True, [why]
    if record.fingerprint is not None and content_fingerprint(report) != record.fingerprint:
        ctx.audit(rid, step, "abandoned", detail="the report changed after posting")
        return True, None
    return False, []


def _retry_report(
    ctx: PostingContext,
    rid: str,
    record: ReportRecord,
    report: Report | UnparsedReport | None,
    policies: Mapping[str, Policy],
    catalog: LedgerCatalog,
    posting_date: date,
) -> list[str] | None:
    """One report's retry: its warnings left (each also audited); None when it changed
    after posting (see :func:`_judged_again`)."""
    stop, closed = _judged_again(ctx, RECEIPT_STEP, "receipt", rid, record, report)
    if stop or not isinstance(report, Report):
        return closed
    lines: dict[str, tuple[tuple[str, ...], ...]] = {}
    policy = policies.get(report.policy_id)
    if ctx.rules.receipts_on is ReceiptTarget.LINE and policy is not None:
        plan = plan_or_hold(None, report, policy=policy, catalog=catalog, rules=ctx.rules,
                            posting_date=posting_date, fingerprint=record.fingerprint)  # fmt: skip
        if not isinstance(plan, ReportOutcome):
            lines = {d.key: d.line_transactions for d in plan}
    left: list[str] = []
    for saved in record.documents:
        doc = LedgerDocument(key=saved.key, kind=DocumentKind(saved.kind), number=saved.number)
        try:
            left += _attach_receipts(ctx, report, DocumentPart(saved.part),
                                     lines.get(saved.key, ()), doc)  # fmt: skip
        except AcumaticaError as exc:  # the links' read failed: the next sync tries again
            why = f"receipt retry: {doc.number} not read ({type(exc).__name__})"
            ctx.audit(rid, RECEIPT_STEP, "warning", document=doc.number, detail=why)
            left.append(why)
    return left


def _attach_report_pdf(ctx: PostingContext, rid: str, docs: Sequence[LedgerDocument]) -> list[str]:
    """Attach the report's PDF to each of its documents once (recorded in the audit)."""
    attach = getattr(ctx.ledger, "attach_file", None)
    if not ctx.rules.attach_report_pdf or ctx.report_pdf is None or attach is None or not docs:
        return []
    done = {
        e.document
        for e in ctx.store.audit_trail(rid, ctx.connection)
        if e.step == REPORT_PDF_STEP and e.outcome == "attached" and e.document
    }

    def put_file(doc: LedgerDocument, name: str, content: bytes) -> None:
        attach(doc, name, content, "application/pdf")

    result = attach_report_pdf(rid, docs, fetcher=ctx.report_pdf, put_file=put_file, done=done)
    for number in result.attached:
        ctx.audit(rid, REPORT_PDF_STEP, "attached", document=number, detail=result.name)
    for warning in result.warnings:
        ctx.audit(rid, REPORT_PDF_STEP, "warning", detail=warning)
    return list(result.warnings)


def _doc_record(planned: PlannedDocument, doc: LedgerDocument) -> DocumentRecord:
    return DocumentRecord(
        key=planned.key, kind=planned.kind.value, number=doc.number, part=planned.part.value
    )


def _rejected(document: PlannedDocument, exc: AcumaticaError) -> Problem:
    """``LEDGER_REJECTED`` with the tenant's own messages (field errors, then ``messages``)."""
    texts = [str(f) for f in getattr(exc, "errors", ())]
    texts += [str(m) for m in getattr(exc, "messages", ()) if str(m) not in texts]
    detail = "; ".join(dict.fromkeys(texts)) or str(exc)
    return Problem(
        code=ErrorCode.LEDGER_REJECTED,
        field=f"document[{document.key}]",
        message=f"Acumatica rejected the {document.kind.value}: {detail}",
        fix=(
            "Correct the data Acumatica names (account, vendor, project, branch…) in "
            "Acumatica or in the report, then run 'expense-bridge replay' for this report."
        ),
    )
