"""``sync()``: one poll, Expensify -> Acumatica, exactly once per report.

Steps (each report's progress is recorded in the state store as it goes):

1. **Preflight** -- the pinned endpoint version is served; the synced policies and the
   Acumatica catalog (accounts, vendors, projects…, the financial calendar, and the
   expense items for the expense-claim target) are read once; categories whose GL code
   names no active account, and mapped expense items Acumatica does not have, are
   reported as warnings (reports using them are held).
2. **Pull** -- one export (plus download polls) of reports in the trigger's states that do
   not carry our export label, without marking anything. The window:

   * ``APPROVED`` (accrual): ``approvedAfter`` = bookmark - ``overlap`` - 1 day
     (``approvedAfter`` excludes its own day, so a report approved on the day of the last
     poll is never skipped); the first run looks back ``initial_lookback``.
   * ``REIMBURSED`` (cash): a report approved long ago may be reimbursed today, so the
     bookmark cannot bound approval dates: ``approvedAfter`` = now - ``cash_lookback``;
     the label filter keeps the volume down.
   * Anchors more than a year old are split into one-year windows (Expensify's rule).
3. **Plan** -- every report is mapped; a mapping problem holds the report (with every
   code and fix) before any ERP call.
4. **Post** -- one existence look-up per page of keys, then one create per new document
   (see :mod:`._posting` for the idempotency protocol).
5. **Acknowledge** -- one export job with ``reportIDList`` of every report posted and not
   yet marked, with ``onFinish`` ``markAsExported`` and our label.
6. **Bookmark** -- advanced to the signpost fixed at the start only if every pulled report
   reached a terminal state (acknowledged or held) and the run had no failure.

``dry_run=True`` pulls, plans and looks up, and writes nothing anywhere.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs

from acumatica_client import AcumaticaClient, AcumaticaError, EndpointVersionError
from expensify_client import (
    ExpensifyClient,
    ExpensifyError,
    Policy,
    PolicyNotFoundError,
    Report,
    ReportState,
    UnparsedReport,
)

from ._adapters import AcumaticaLedger, ExpensifySource
from ._claims import expense_item_warnings
from ._config import BridgeConfig
from ._describe import describe_planned
from ._errors import ConfigError, ErrorCode, Problem
from ._keys import DocumentKind
from ._notify import run_with_notifications
from ._payments import with_payment_sync
from ._ports import ExpenseSource, Ledger, LedgerDocument
from ._posting import (
    PostingContext,
    StepHook,
    plan_or_hold,
    post_batch,
    posting_concurrency,
    problem_dicts,
    retry_receipts,
    retry_report_pdfs,
    settled,
)
from ._receipts import ReceiptFetcher
from ._report_pdf import ReportPdfFetcher
from ._results import Action, CallCounts, ReportOutcome, SyncResult
from ._rules import Trigger
from ._source import ALL_STATES
from ._store import (
    AuditEntry,
    ReportStatus,
    StateStore,
    batched,
    read_reports,
    report_statuses,
)
from ._tax import tax_zone_warnings
from ._vendors import ensure_vendors
from .mapping import PlannedDocument, content_fingerprint
from .provisioning import category_issues

__all__ = ["export_windows", "sync"]

logger = logging.getLogger(__name__)

_ONE_YEAR = timedelta(days=365)  # never more than a calendar year
_OPEN_WINDOW = _ONE_YEAR - timedelta(days=1)  # younger anchors need no endDate


def _utcnow() -> datetime:
    return datetime.now(UTC)


def export_windows(approved_after: date, today: date) -> list[tuple[date, date | None]]:
    """``(approvedAfter, endDate)`` windows covering ``approved_after`` up to today.

    Expensify requires an ``endDate`` once an anchor is more than a year in the past and
    refuses spans over a year. An anchor less than a year old (with a day's margin for
    the undocumented time zone of these dates) gets one open window. An older one gets
    windows of 365 days (never more than a calendar year) ending on an explicit
    ``endDate``; the last one reaches today, so a 365-day look-back is ONE export.
    ``endDate`` bounds the later of created/submitted, and a report is approved on or
    after it was submitted, so consecutive windows whose next anchor is the previous
    end date miss nothing.
    """
    windows: list[tuple[date, date | None]] = []
    anchor = approved_after
    while anchor < today - _OPEN_WINDOW:
        end = anchor + _ONE_YEAR
        windows.append((anchor, end))
        if end >= today:
            return windows
        anchor = end
    windows.append((anchor, None))
    return windows


def _approved_after(config: BridgeConfig, bookmark: datetime | None, now: datetime) -> date:
    if config.rules.trigger is Trigger.REIMBURSED:
        return (now - config.cash_lookback).date()
    start = bookmark if bookmark is not None else now - config.initial_lookback
    return (start - config.overlap).date() - timedelta(days=1)


def sync(
    config: BridgeConfig,
    *,
    acumatica: AcumaticaClient | None = None,
    expensify: ExpensifyClient | None = None,
    store: StateStore | None = None,
    dry_run: bool = False,
    now: Callable[[], datetime] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    on_step: StepHook | None = None,
    on_run_finished: Callable[[SyncResult], None] | None = None,
) -> SyncResult:
    """Run one poll (see the module docstring) and return what happened.

    Clients default to ones built from ``config`` and the credential vault; ``store`` to
    the SQLite file at ``config.state_path``. With ``config.run_provisioning_first``,
    employees, categories and tags are provisioned from Acumatica before the poll.
    ``now`` is the clock (tz-aware); ``progress(step, done, total)`` is called while
    posting; ``on_step`` is a test hook called at every step boundary of a report.
    ``on_run_finished(result)`` is called once per run, after the ``[notifications]``
    channels (see :mod:`._notify`).
    """
    with ExitStack() as stack:
        if acumatica is None or expensify is None:
            from ._factory import open_clients

            opened_acu, opened_exp = stack.enter_context(open_clients(config))
            acumatica = acumatica or opened_acu
            expensify = expensify or opened_exp
        if store is None:
            from ._factory import open_store

            store = stack.enter_context(open_store(config))  # state.url, or the SQLite file
        if config.run_provisioning_first and not dry_run:
            from .provisioning import provision_all

            provision_all(config, acumatica=acumatica, expensify=expensify)
        ledger = AcumaticaLedger.for_rules(acumatica, config.rules, page_size=config.page_size)
        receipts = stack.enter_context(ReceiptFetcher()) if config.rules.attach_receipts else None
        report_pdf = ReportPdfFetcher(expensify) if config.rules.attach_report_pdf else None
        source = ExpensifySource(expensify, report_fields=tuple(config.rules.report_fields))
        run_store = store
        acu_client, exp_client, clock = acumatica, expensify, now or _utcnow
        return run_with_notifications(
            config,
            lambda: with_payment_sync(
                config,
                _run(
                    config,
                    ledger,
                    source,
                    run_store,
                    dry_run=dry_run,
                    clock=clock,
                    progress=progress,
                    on_step=on_step,
                    receipts=receipts,
                    report_pdf=report_pdf,
                ),
                acumatica=acu_client,
                expensify=exp_client,
                store=run_store,
                clock=clock,
            ),
            store=store,
            dry_run=dry_run,
            on_run_finished=on_run_finished,
        )


def _run(
    config: BridgeConfig,
    ledger: Ledger,
    source: ExpenseSource,
    store: StateStore,
    **options: Any,
) -> SyncResult:
    """One run in one unit of work of the store (per thread; see ``DatabaseStore.batched``):
    holds, acknowledgements, audit lines, releases and the run record are committed with
    the next read, claim or durable write, not one transaction each."""
    with batched(store):
        return _run_now(config, ledger, source, store, **options)


def _run_now(
    config: BridgeConfig,
    ledger: Ledger,
    source: ExpenseSource,
    store: StateStore,
    *,
    dry_run: bool,
    clock: Callable[[], datetime],
    progress: Callable[[str, int, int], None] | None,
    on_step: StepHook | None,
    receipts: ReceiptFetcher | None = None,
    report_pdf: ReportPdfFetcher | None = None,
) -> SyncResult:
    started = clock()
    signpost = started
    run_id = uuid.uuid4().hex[:12]
    acu_start, exp_start = ledger.calls, source.calls
    connection = config.connection
    errors: list[str] = []

    # 1. preflight
    try:
        ledger.check()
    except EndpointVersionError as exc:
        raise ConfigError(
            (
                Problem(
                    code=ErrorCode.RULES_INVALID,
                    field="acumatica.endpoint_version",
                    message=str(exc),
                    fix="Set acumatica.endpoint_version to a version the instance offers.",
                ),
            )
        ) from exc
    try:
        policies = dict(source.get_policies(config.policies))
    except PolicyNotFoundError as exc:
        policies = {}
        logger.info("policy getter: %s", type(exc).__name__)
    missing = [p for p in config.policies if p not in policies]
    if missing:
        raise ConfigError(
            tuple(
                Problem(
                    code=ErrorCode.RULES_INVALID,
                    field="policies",
                    message=f"Expensify policy {p} is not visible to these credentials",
                    fix="Check the policy ID in the configuration and the account's access.",
                )
                for p in missing
            )
        )
    catalog = ledger.load_catalog()

    # 2. pull
    bookmark = store.bookmark(connection)
    approved_after = _approved_after(config, bookmark, started)
    reports: dict[str, Report] = {}
    unparsed: dict[str, UnparsedReport] = {}
    pulls: list[tuple[tuple[ReportState, ...], date | None, date | None, date | None]] = [
        (config.rules.pull_states(), after, None, end)
        for after, end in export_windows(approved_after, started.date())
    ]
    if config.rules.post_closed:
        # Submit-and-Close reports go straight to Closed and are never approved; whether
        # ``approvedAfter`` keeps never-approved reports is an open question of the
        # reference (the emulator drops them), so Closed reports are also pulled by their
        # reference date (``startDate``: the later of created and submitted, inclusive).
        pulls += [
            ((ReportState.ARCHIVED,), None, start, end)
            for start, end in export_windows(approved_after, started.date())
        ]
    for states, after, start_date, end in pulls:
        for item in source.fetch_reports(
            policy_ids=config.policies,
            states=states,
            approved_after=after,
            start_date=start_date,
            end_date=end,
            exclude_label=config.export_label,
        ):
            if isinstance(item, UnparsedReport):
                if item.report_id is None:
                    errors.append(f"an exported report without a readable ID: {_named(item)}")
                else:
                    unparsed.setdefault(item.report_id, item)
            elif _ready(config, item):
                reports.setdefault(item.report_id, item)
    ordered = [reports[k] for k in sorted(reports)]
    logger.info(
        "sync %s: pulled %d reports (approvedAfter %s)", run_id, len(ordered), approved_after
    )

    # Categories whose GL code (the getter's, else the export's) names no active account.
    warnings = [
        f"policy {policy_id}: {issue.message}"
        for policy_id, policy in sorted(policies.items())
        for issue in category_issues(_with_export_codes(policy, ordered), catalog.account_is_active)
    ]
    warnings += expense_item_warnings(config.rules, catalog)
    warnings += tax_zone_warnings(config.rules, catalog)

    ctx = PostingContext(
        connection=connection,
        rules=config.rules,
        ledger=ledger,
        store=store,
        run_id=run_id,
        clock=clock,
        on_step=on_step or (lambda step, rid: None),
        receipts=receipts,
        report_pdf=report_pdf,
        concurrency=posting_concurrency(
            config.rules.posting_concurrency, _licensed_concurrency(config, ledger)
        ),
    )
    if isinstance(client := getattr(ledger, "client", None), AcumaticaClient):
        catalog = ensure_vendors(client, catalog, ordered, config.rules, ctx.audit,
                                 create=not dry_run)  # fmt: skip
    outcomes: dict[str, ReportOutcome] = {}
    for rid, item in sorted(unparsed.items()):
        if rid not in reports:
            outcomes[rid] = _hold_unparsed(None if dry_run else ctx, item)

    # 3. plan
    planned: dict[str, tuple[PlannedDocument, ...]] = {}
    relabel: list[str] = []  # acknowledged before, returned again: the label was lost
    known = read_reports(store, connection, [r.report_id for r in ordered])  # one read
    for report in ordered:
        fingerprint = content_fingerprint(report)  # once per report and run
        done = settled(None if dry_run else ctx, report, store=store, connection=connection,
                       record=known.get(report.report_id), fingerprint=fingerprint)  # fmt: skip
        if done is not None:
            outcomes[report.report_id] = done
            if done.status is ReportStatus.ACKNOWLEDGED:
                relabel.append(report.report_id)
            continue
        policy = policies.get(report.policy_id)
        if policy is None:
            outcome = _policy_not_synced(None if dry_run else ctx, report)
            outcomes[report.report_id] = outcome
            continue
        plan = plan_or_hold(
            None if dry_run else ctx,
            report,
            policy=policy,
            catalog=catalog,
            rules=config.rules,
            posting_date=started.date(),
            fingerprint=fingerprint,
        )
        if isinstance(plan, ReportOutcome):
            outcomes[report.report_id] = plan
        else:
            planned[report.report_id] = plan

    # 4. post: claim a page of reports, look its keys up, then one create per new document
    if dry_run:
        keys: list[tuple[DocumentKind, str]] = [
            (doc.kind, doc.key) for docs in planned.values() for doc in docs
        ]
        existing = ledger.find_documents(keys) if keys else {}
        for rid, docs in planned.items():
            outcomes[rid] = _would(rid, docs, existing, store, connection)
    else:
        outcomes.update(
            post_batch(
                ctx, [(reports[rid], docs) for rid, docs in planned.items()], progress=progress
            )
        )

    # 5. acknowledge: every report posted and not yet marked (this run's and earlier ones),
    # only while its content is the one posted; "acknowledged" only once Expensify confirms.
    if not dry_run:
        to_ack = _current_to_acknowledge(ctx, source, reports, relabel, outcomes, errors)
        if to_ack:
            try:
                marked = source.acknowledge(to_ack, config.export_label, ALL_STATES)
            except (ExpensifyError, AcumaticaError) as exc:
                errors.append(f"acknowledgement failed: {type(exc).__name__}: {exc}")
                for rid in to_ack:
                    ctx.audit(rid, "acknowledge", "failed", detail=type(exc).__name__)
            else:
                now = clock()
                for rid in to_ack:
                    if rid not in marked:
                        # Not confirmed: stays POSTED (re-labelled ones go back to it) and
                        # is acknowledged again by the next run.
                        store.set_status(connection, rid, ReportStatus.POSTED, now)
                        ctx.audit(rid, "acknowledge", "not confirmed",
                                  detail="Expensify's answer does not list it")  # fmt: skip
                        continue
                    store.set_status(connection, rid, ReportStatus.ACKNOWLEDGED, now)
                    ctx.audit(rid, "acknowledge", "marked exported", detail=config.export_label)
                    previous = outcomes.get(rid)
                    if previous is None:
                        outcomes[rid] = ReportOutcome(
                            report_id=rid,
                            action=Action.ACKNOWLEDGED,
                            status=ReportStatus.ACKNOWLEDGED,
                        )
                    else:
                        outcomes[rid] = _with_status(previous, ReportStatus.ACKNOWLEDGED)

    # 5b. receipts that failed on reports posted by earlier syncs: tried again, no re-post
    if not dry_run and config.rules.attach_receipts:
        try:
            warnings += retry_receipts(ctx, source, ALL_STATES, policies=policies,
                                       catalog=catalog, posting_date=started.date())  # fmt: skip
        except (ExpensifyError, AcumaticaError) as exc:
            errors.append(f"receipt retry failed: {type(exc).__name__}: {exc}")
    if not dry_run and config.rules.attach_report_pdf:  # the report PDF, the same way
        try:
            warnings += retry_report_pdfs(ctx, source, ALL_STATES)
        except (ExpensifyError, AcumaticaError) as exc:
            errors.append(f"report PDF retry failed: {type(exc).__name__}: {exc}")

    # 6. bookmark
    bookmark_after = bookmark
    if not dry_run:
        stored = report_statuses(store, connection, list(reports))  # one query per page
        pending = [rid for rid in reports if rid not in stored or not stored[rid].terminal]
        if not pending and not errors:
            store.set_bookmark(connection, signpost)
            bookmark_after = signpost
        elif pending:
            logger.info("sync %s: bookmark kept; %d reports not terminal", run_id, len(pending))

    finished = clock()
    result = SyncResult(
        run_id=run_id,
        started=started,
        finished=finished,
        dry_run=dry_run,
        outcomes=tuple(outcomes[k] for k in sorted(outcomes)),
        calls=CallCounts(acumatica=ledger.calls - acu_start, expensify=source.calls - exp_start),
        pulled=len(ordered),
        bookmark_before=bookmark,
        bookmark_after=bookmark_after,
        errors=tuple(errors),
        warnings=tuple(warnings),
    )
    if not dry_run:
        store.record_run(connection, run_id, started, finished, _summary(result))
    return result


def _summary(result: SyncResult) -> dict[str, Any]:
    return {
        "pulled": result.pulled,
        "counts": result.counts,
        "calls": {"acumatica": result.calls.acumatica, "expensify": result.calls.expensify},
        "errors": list(result.errors),
    }


def _with_status(outcome: ReportOutcome, status: ReportStatus) -> ReportOutcome:
    return attrs.evolve(outcome, status=status)


def _would(
    rid: str,
    docs: Sequence[PlannedDocument],
    existing: Mapping[str, LedgerDocument],
    store: StateStore,
    connection: str,
) -> ReportOutcome:
    record = store.get(connection, rid)
    if record is not None and record.status in (ReportStatus.POSTED, ReportStatus.ACKNOWLEDGED):
        return ReportOutcome(report_id=rid, action=Action.ALREADY_POSTED, status=record.status)
    found = [existing[d.key].number for d in docs if d.key in existing]
    total = sum((d.total for d in docs), start=docs[0].total * 0) if docs else None
    return ReportOutcome(
        report_id=rid,
        action=Action.WOULD_ADOPT if found and len(found) == len(docs) else Action.WOULD_POST,
        status=None,
        documents=tuple(found) or tuple(f"new {d.kind.value} {d.key}" for d in docs),
        total=f"{total} {docs[0].currency}" if docs else None,
        detail=describe_planned(docs) if docs else None,  # sync --dry-run shows the lines
    )


def _with_export_codes(policy: Policy, reports: Sequence[Report]) -> Policy:
    """``policy`` with the export's ``categoryGlCode`` for categories the getter left bare."""
    seen: dict[str, str] = {}
    for report in reports:
        if report.policy_id == policy.policy_id:
            for e in report.expenses:
                if e.category and e.category_gl_code:
                    seen.setdefault(e.category, e.category_gl_code)
    categories = tuple(
        c if c.gl_code or c.name not in seen else attrs.evolve(c, gl_code=seen[c.name])
        for c in policy.categories
    )
    return attrs.evolve(policy, categories=categories)


def _ready(config: BridgeConfig, report: Report) -> bool:
    """Whether a pulled report is final for the trigger (see ``PostingRules.is_ready``).

    A status outside Expensify's vocabularies (``None``) is taken as the export filter's
    answer: the report is in one of the states asked for. Where those include a state that
    is only final for card-only reports, a reimbursable report of unknown status waits.
    """
    reimbursable = any(e.reimbursable for e in report.expenses)
    if report.status is None:
        extra = set(config.rules.pull_states()) - set(config.rules.trigger.report_states)
        return not (reimbursable and ReportState.APPROVED in extra)
    return config.rules.is_ready(report.status, reimbursable)


def _named(item: UnparsedReport) -> str:
    return "; ".join(str(p) for p in item.problems) or "unreadable"


def _licensed_concurrency(config: BridgeConfig, ledger: Ledger) -> int | None:
    """The licence's concurrent requests: the configured figure, or the Acumatica
    client's licence when that is lower (None: neither sets one)."""
    figures = [config.acumatica.max_concurrent]
    if isinstance(ledger, AcumaticaLedger):
        figures.append(ledger.client.options.licence.max_concurrent)
    known = [figure for figure in figures if figure is not None]
    return min(known) if known else None


def _hold_unparsed(ctx: PostingContext | None, item: UnparsedReport) -> ReportOutcome:
    """A report the export carries but that cannot be read: held naming its problems."""
    rid = item.report_id or "?"
    problems = tuple(
        Problem(
            code=ErrorCode.REPORT_UNPARSED,
            field=p.field,
            message=f"report {rid} cannot be read from the export: {p.message} ({p.value_repr})",
            fix="Correct the report in Expensify (or the template), then sync again.",
        )
        for p in item.problems
    ) or (
        Problem(
            code=ErrorCode.REPORT_UNPARSED,
            field="report",
            message=f"report {rid} cannot be read from the export",
            fix="Correct the report in Expensify (or the template), then sync again.",
        ),
    )
    if ctx is not None:
        record = ctx.store.get(ctx.connection, rid)
        if record is None or record.status not in (
            ReportStatus.POSTED, ReportStatus.ACKNOWLEDGED, ReportStatus.POSTING
        ):  # fmt: skip
            ctx.store.set_status(ctx.connection, rid, ReportStatus.HELD, ctx.clock(),
                                 problem_dicts(problems))  # fmt: skip
            for problem in problems:
                ctx.audit(rid, "pull", "held", error_code=problem.code.value,
                          detail=f"{problem.field}: {problem.message}")  # fmt: skip
        else:
            for problem in problems:
                ctx.audit(rid, "pull", "unreadable", error_code=problem.code.value,
                          detail=f"{problem.field}: {problem.message}")  # fmt: skip
    return ReportOutcome(report_id=rid, action=Action.HELD, status=None, problems=problems)


def _current_to_acknowledge(
    ctx: PostingContext,
    source: ExpenseSource,
    pulled: Mapping[str, Report],
    relabel: Sequence[str],
    outcomes: dict[str, ReportOutcome],
    errors: list[str],
) -> list[str]:
    """Reports to mark exported now, each known to be as it was posted.

    Reports pulled by this run were checked against their posted content already
    (``settled``). Reports carried over from an earlier run (posted, never confirmed
    marked) are read again first, in any state: one edited since its document was posted
    is held with ``CHANGED_AFTER_POSTING``, not marked; one not found stays unacknowledged.
    """
    store, connection = ctx.store, ctx.connection
    posted = {r.report_id: r for r in store.with_status(connection, ReportStatus.POSTED)}
    carried = sorted(rid for rid in posted if rid not in pulled)
    current: dict[str, Report | UnparsedReport] = {}
    if carried:
        try:
            for item in source.fetch_by_ids(carried, ALL_STATES):
                if item.report_id is not None:
                    current[item.report_id] = item
        except ExpensifyError as exc:
            errors.append(f"re-reading posted reports failed: {type(exc).__name__}: {exc}")
            carried = []
    ready = [rid for rid in posted if rid in pulled]
    for rid in carried:
        now = current.get(rid)
        record = posted[rid]
        if now is None:
            ctx.audit(rid, "acknowledge", "deferred", detail="not found in Expensify")
            continue
        if isinstance(now, UnparsedReport):
            ctx.audit(rid, "acknowledge", "deferred", detail=f"unreadable: {_named(now)}")
            continue
        if record.fingerprint is not None and content_fingerprint(now) != record.fingerprint:
            held = settled(ctx, now, store=store, connection=connection)  # holds it
            if held is not None:
                outcomes[rid] = held
            continue
        ready.append(rid)
    return sorted({*ready, *relabel})


def _policy_not_synced(ctx: PostingContext | None, report: Report) -> ReportOutcome:
    problem = Problem(
        code=ErrorCode.RULES_INVALID,
        field="policy_id",
        message=f"report {report.report_id} belongs to policy {report.policy_id}, not synced",
        fix="Add the policy to 'policies' in the configuration, or remove the report's label.",
    )
    if ctx is not None:
        ctx.store.save_snapshot(ctx.connection, report, content_fingerprint(report), ctx.clock())
        ctx.store.set_status(ctx.connection, report.report_id, ReportStatus.HELD, ctx.clock(),
                             problem_dicts([problem]))  # fmt: skip
        ctx.audit(report.report_id, "plan", "held", error_code=problem.code.value)
    return ReportOutcome(
        report_id=report.report_id, action=Action.HELD, status=None, problems=(problem,)
    )


def iter_audit(store: StateStore, report_id: str) -> Iterator[AuditEntry]:
    """A report's audit trail (oldest first)."""
    yield from store.audit_trail(report_id)
