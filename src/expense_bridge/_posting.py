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

import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal

import attrs

from acumatica_client import (
    AcumaticaError,
    APIConnectionError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    RateLimitError,
    UnprocessableEntityError,
    ValidationError,
)
from expensify_client import Category, Policy, Report

from ._catalog import LedgerCatalog
from ._errors import ErrorCode, MappingError, Problem
from ._keys import DocumentKind
from ._ports import Ledger, LedgerDocument
from ._results import Action, ReportOutcome
from ._rules import PostingRules
from ._store import AuditEntry, DocumentRecord, ReportRecord, ReportStatus, StateStore
from ._tax import plan_with_tax
from .mapping import PlannedDocument, content_fingerprint, plan_report

__all__ = [
    "PostingContext",
    "plan_or_hold",
    "policy_from_export",
    "post_planned",
    "problem_dicts",
    "settled",
]

logger = logging.getLogger(__name__)

#: Called at each step boundary with (step, report_id); tests raise from it to simulate
#: crashes. Steps: "claimed", "intent", "created", "recorded", "posted".
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


def _digest(planned: PlannedDocument) -> str:
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
) -> tuple[PlannedDocument, ...] | ReportOutcome:
    """Plan a report; a mapping error holds it (recorded unless ``ctx`` is None: dry run)."""
    try:
        return plan_with_tax(
            lambda: plan_report(
                report, policy=policy, catalog=catalog, rules=rules, posting_date=posting_date
            ),
            report,
            rules,
        )
    except MappingError as exc:
        if ctx is None:
            return ReportOutcome(
                report_id=report.report_id,
                action=Action.HELD,
                status=None,
                problems=exc.problems,
            )
        ctx.store.save_snapshot(ctx.connection, report, content_fingerprint(report), ctx.clock())
        return _hold(ctx, report, exc.problems, step="plan")


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


def settled(
    ctx: PostingContext | None,
    report: Report,
    *,
    store: StateStore,
    connection: str,
) -> ReportOutcome | None:
    """The outcome of a report the store already settled, or None when it needs posting.

    Checked before the report is mapped, so a posted report is never re-planned (its
    stored fingerprint and snapshot stay those of the posted content): unchanged ->
    ``ALREADY_POSTED``; content changed since it was posted -> held with
    ``CHANGED_AFTER_POSTING`` (recorded unless ``ctx`` is None: dry run). Posting itself
    checks again after taking the report's lease (another worker may have posted it).
    """
    record = store.get(connection, report.report_id)
    state = _state(record, content_fingerprint(report))
    if record is None or state is None:
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


def post_planned(
    ctx: PostingContext,
    report: Report,
    planned: Sequence[PlannedDocument],
    existing: Mapping[str, LedgerDocument],
    *,
    looked_up_at: datetime | None = None,
) -> ReportOutcome:
    """Post one planned report idempotently (see the module docstring).

    ``existing`` is the result of the batched look-up done at ``looked_up_at``. When the
    report's intent was recorded at or after that moment (another worker started posting
    it after our look-up, then let go of it), or when the moment is unknown, the report's
    keys are looked up again before anything is created.
    """
    rid = report.report_id
    fingerprint = content_fingerprint(report)
    if not ctx.store.claim(ctx.connection, rid, ctx.owner, ctx.clock(), ctx.lease_seconds):
        ctx.audit(rid, "claim", "skipped", detail="another worker holds this report")
        return ReportOutcome(report_id=rid, action=Action.SKIPPED, status=None,
                             detail="another worker is posting this report")  # fmt: skip
    try:
        ctx.on_step("claimed", rid)
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
        interrupted = record is not None and record.status is ReportStatus.POSTING
        if interrupted and record is not None and _stale(record.updated_at, looked_up_at):
            missing = [(d.kind, d.key) for d in planned if d.key not in known]
            existing = dict(ctx.ledger.find_documents(missing)) if missing else {}
            ctx.audit(rid, "lookup", "repeated", detail="intent recorded after the look-up")
        if interrupted and record is not None and record.fingerprint not in (None, fingerprint):
            # An earlier attempt with other content may have created documents whose
            # answer was lost: they belong to the report, but do not match it any more.
            earlier = [(d, existing[d.key]) for d in planned if d.key in existing]
            if earlier:
                for document, doc in earlier:
                    ctx.store.add_document(
                        ctx.connection, rid, _doc_record(document, doc), ctx.clock()
                    )
                problem = _changed(report, record.fingerprint or "")
                return _hold(ctx, report, [problem], step="check")

        ctx.store.save_snapshot(ctx.connection, report, fingerprint, ctx.clock())
        ctx.store.set_status(ctx.connection, rid, ReportStatus.POSTING, ctx.clock())
        ctx.audit(rid, "intent", "recorded", detail=", ".join(p.key for p in planned))
        ctx.on_step("intent", rid)
        numbers: list[str] = []
        created = adopted = 0
        for document in planned:
            if document.key in known:
                numbers.append(known[document.key].number)
                continue
            found = existing.get(document.key)
            if found is not None:
                adopted += 1
                doc = found
                ctx.audit(rid, "lookup", "adopted", document=doc.number, detail=document.key)
            else:
                try:
                    doc = ctx.ledger.create(document)
                except (ValidationError, UnprocessableEntityError, BadRequestError) as exc:
                    problem = _rejected(document, exc)
                    return _hold(ctx, report, [problem], step="create")
                created += 1
                ctx.on_step("created", rid)
                ctx.audit(rid, "create", "created", document=doc.number, detail=document.key,
                          digest=_digest(document))  # fmt: skip
            ctx.store.add_document(ctx.connection, rid, _doc_record(document, doc), ctx.clock())
            ctx.on_step("recorded", rid)
            numbers.append(doc.number)
            if ctx.rules.release and doc.kind in (DocumentKind.BILL, DocumentKind.JOURNAL):
                _release(ctx, rid, doc)
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
        )
    except (APIConnectionError, RateLimitError, InternalServerError, ConflictError) as exc:
        logger.warning("report %s: %s; it will be retried next run", rid, type(exc).__name__)
        ctx.audit(rid, "create", "unknown outcome", detail=type(exc).__name__)
        return ReportOutcome(
            report_id=rid,
            action=Action.PENDING,
            status=ReportStatus.POSTING,
            detail=f"{type(exc).__name__}: retried (look-up first) next run",
        )
    finally:
        ctx.store.release(ctx.connection, rid, ctx.owner)


def _stale(recorded: datetime | None, looked_up_at: datetime | None) -> bool:
    return looked_up_at is None or recorded is None or recorded >= looked_up_at


def _release(ctx: PostingContext, rid: str, doc: LedgerDocument) -> None:
    try:
        ctx.ledger.release(doc)
    except AcumaticaError as exc:
        ctx.audit(rid, "release", "failed", document=doc.number, detail=type(exc).__name__)
        return
    ctx.audit(rid, "release", "released", document=doc.number)


def _doc_record(planned: PlannedDocument, doc: LedgerDocument) -> DocumentRecord:
    return DocumentRecord(
        key=planned.key, kind=planned.kind.value, number=doc.number, part=planned.part.value
    )


def _rejected(document: PlannedDocument, exc: AcumaticaError) -> Problem:
    fields = getattr(exc, "errors", ())
    detail = "; ".join(str(f) for f in fields) or str(exc)
    return Problem(
        code=ErrorCode.LEDGER_REJECTED,
        field=f"document[{document.key}]",
        message=f"Acumatica rejected the {document.kind.value}: {detail}",
        fix=(
            "Correct the data Acumatica names (account, vendor, project, branch…) in "
            "Acumatica or in the report, then run 'expense-bridge replay' for this report."
        ),
    )
