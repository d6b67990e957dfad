"""``post_report`` (one report, idempotent) and ``replay`` (from the stored snapshot).

Both take the configuration first, like :func:`~expense_bridge.sync` and
:func:`~expense_bridge.provision_all`: ``post_report(config, report, ...)``,
``replay(config, report_id, ...)``. The 0.1 call shapes ``post_report(report,
config=...)`` and ``replay(report_id, config=...)`` still work for one release and
raise a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import functools
import uuid
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from acumatica_client import AcumaticaClient
from expensify_client import ExpensifyClient, Policy, Report, UnparsedReport

from ._adapters import AcumaticaLedger, ExpensifySource
from ._catalog import LedgerCatalog
from ._config import BridgeConfig
from ._errors import BridgeError
from ._posting import PostingContext, plan_or_hold, policy_from_export, post_planned, settled
from ._receipts import ReceiptFetcher
from ._results import Action, CallCounts, PostResult, ReportOutcome
from ._store import ReportStatus, StateStore
from ._vendors import ensure_vendors

__all__ = ["post_report", "replay"]


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _config_first(subject: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Also accept the deprecated ``func(<subject>, config=...)`` shape, with a warning."""

    def decorate(func: Callable[_P, _R]) -> Callable[_P, _R]:
        name = func.__name__

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if len(args) == 1 and "config" in kwargs and not isinstance(args[0], BridgeConfig):
                warnings.warn(
                    f"{name}({subject}, config=...) is deprecated and will be removed in "
                    f"the next release: call {name}(config, {subject}, ...)",
                    DeprecationWarning,
                    stacklevel=2,
                )
                args = (kwargs.pop("config"), args[0])
            return func(*args, **kwargs)

        return wrapper

    return decorate


def _utcnow() -> datetime:
    return datetime.now(UTC)


@_config_first("report")
def post_report(
    config: BridgeConfig,
    report: Report,
    *,
    acumatica: AcumaticaClient,
    store: StateStore,
    policy: Policy | None = None,
    catalog: LedgerCatalog | None = None,
    now: Callable[[], datetime] | None = None,
) -> PostResult:
    """Post one report into Acumatica, idempotently.

    Plans the report (``policy`` defaults to the category GL codes exported with the
    report; ``catalog`` is read from Acumatica when not given), records the intent, looks
    the document key up, creates only what is missing and records the document number.
    Running it again -- after success, a crash or a lost answer -- never creates a
    second document. A report whose content changed since it was posted is held with
    ``CHANGED_AFTER_POSTING``. Marking the report exported in Expensify is ``sync``'s job.

    ``post_report(report, config=config, ...)`` (0.1) still works and warns
    (:class:`DeprecationWarning`).
    """
    with ExitStack() as stack:
        receipts = stack.enter_context(ReceiptFetcher()) if config.rules.attach_receipts else None
        return _post_report(config, report, acumatica, store, policy, catalog, now, receipts)


def _post_report(
    config: BridgeConfig,
    report: Report,
    acumatica: AcumaticaClient,
    store: StateStore,
    policy: Policy | None,
    catalog: LedgerCatalog | None,
    now: Callable[[], datetime] | None,
    receipts: ReceiptFetcher | None,
) -> PostResult:
    clock = now or _utcnow
    ledger = AcumaticaLedger.for_rules(acumatica, config.rules, page_size=config.page_size)
    start = ledger.calls
    if catalog is None:
        catalog = ledger.load_catalog()
    ctx = PostingContext(
        connection=config.connection,
        rules=config.rules,
        ledger=ledger,
        store=store,
        run_id=f"post-{uuid.uuid4().hex[:8]}",
        clock=clock,
        receipts=receipts,
    )
    done = settled(ctx, report, store=store, connection=config.connection)
    if done is not None:
        return PostResult(outcome=done, calls=CallCounts(acumatica=ledger.calls - start))
    catalog = ensure_vendors(acumatica, catalog, [report], config.rules, ctx.audit)
    plan = plan_or_hold(
        ctx,
        report,
        policy=policy or policy_from_export(report),
        catalog=catalog,
        rules=config.rules,
        posting_date=clock().date(),
    )
    if isinstance(plan, ReportOutcome):
        return PostResult(outcome=plan, calls=CallCounts(acumatica=ledger.calls - start))
    outcome = post_planned(ctx, report, plan)
    return PostResult(outcome=outcome, calls=CallCounts(acumatica=ledger.calls - start))


@_config_first("report_id")
def replay(
    config: BridgeConfig,
    report_id: str,
    *,
    acumatica: AcumaticaClient | None = None,
    expensify: ExpensifyClient | None = None,
    store: StateStore | None = None,
    policy: Policy | None = None,
    now: Callable[[], datetime] | None = None,
) -> PostResult:
    """Re-run one held or failed report (after a mapping or data fix).

    With an Expensify client (the default when both clients are built from ``config``),
    the report is exported again by ID: a report that is no longer approved/reimbursed
    (re-opened, rejected) is refused rather than posted from a stale copy, and the
    policy's current GL codes are used. With only an Acumatica client, the export
    snapshot kept in the store is re-run. A report already posted is a no-op that says so.
    The next ``sync`` marks a replayed report exported in Expensify.

    ``replay(report_id, config=config, ...)`` (0.1) still works and warns
    (:class:`DeprecationWarning`).
    """
    if store is None:
        from ._factory import open_store

        with open_store(config) as owned:
            return replay(
                config, report_id, acumatica=acumatica, expensify=expensify,
                store=owned, policy=policy, now=now,
            )  # fmt: skip
    record = store.get(config.connection, report_id)
    if record is None or record.snapshot is None:
        raise BridgeError(f"report {report_id} is not in the state store; run a sync first")
    if record.status in (ReportStatus.POSTED, ReportStatus.ACKNOWLEDGED):
        return PostResult(
            outcome=ReportOutcome(
                report_id=report_id,
                action=Action.ALREADY_POSTED,
                status=record.status,
                documents=tuple(d.number for d in record.documents),
                detail="already posted: nothing to replay",
            )
        )
    with ExitStack() as stack:
        if acumatica is None:
            from ._factory import open_clients

            acumatica, opened = stack.enter_context(open_clients(config))
            expensify = expensify or opened
        report = record.report()
        if expensify is not None:
            source = ExpensifySource(expensify, report_fields=tuple(config.rules.report_fields))
            fresh = source.fetch_by_ids([report_id], config.rules.pull_states())
            if not fresh:
                raise BridgeError(
                    f"report {report_id} is no longer {config.rules.trigger.value.lower()} in "
                    "Expensify (re-opened or rejected); nothing was posted"
                )
            if isinstance(fresh[0], UnparsedReport):
                problems = "; ".join(str(p) for p in fresh[0].problems)
                raise BridgeError(
                    f"report {report_id} cannot be read from the export ({problems}); "
                    "nothing was posted"
                )
            report = fresh[0]
            if policy is None:
                policy = source.get_policies([report.policy_id]).get(report.policy_id)
        if report is None:  # pragma: no cover - guarded by the snapshot check above
            raise BridgeError(f"report {report_id} has no snapshot")
        return post_report(config, report, acumatica=acumatica, store=store, policy=policy, now=now)
