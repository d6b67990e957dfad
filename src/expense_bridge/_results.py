"""What ``sync``, ``post_report`` and ``replay`` return."""

from __future__ import annotations

import enum
from collections import Counter
from datetime import datetime
from typing import Any

import attrs

from ._errors import Problem
from ._store import ReportStatus

__all__ = ["Action", "CallCounts", "PostResult", "ReportOutcome", "SyncResult"]


class Action(enum.Enum):
    """What the bridge did with one report in one run."""

    POSTED = "posted"  # created the document(s)
    ADOPTED = "adopted"  # found the document(s) already in Acumatica (e.g. a lost answer)
    ALREADY_POSTED = "already_posted"  # the store says posted: nothing written
    ACKNOWLEDGED = "acknowledged"  # marked exported in Expensify in this run
    HELD = "held"  # needs a person
    PENDING = "pending"  # the write's outcome is unknown or it failed transiently: next run
    SKIPPED = "skipped"  # another worker holds the report; or nothing to post
    WOULD_POST = "would_post"  # dry run
    WOULD_ADOPT = "would_adopt"  # dry run


@attrs.frozen(kw_only=True)
class ReportOutcome:
    """The result of one report in one run."""

    report_id: str
    action: Action
    status: ReportStatus | None
    documents: tuple[str, ...] = ()  # "Bill 000123", "GL 000045"
    problems: tuple[Problem, ...] = ()
    detail: str | None = None
    total: str | None = None  # "1234.56 USD"
    warnings: tuple[str, ...] = ()  # e.g. a receipt not attached (never a reason to re-post)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json`` output)."""
        return {
            "report_id": self.report_id,
            "action": self.action.value,
            "status": self.status.value if self.status else None,
            "documents": list(self.documents),
            "problems": [
                {"code": p.code.value, "field": p.field, "message": p.message, "fix": p.fix,
                 "transaction_id": p.transaction_id}
                for p in self.problems
            ],
            "detail": self.detail,
            "total": self.total,
            "warnings": list(self.warnings),
        }  # fmt: skip


@attrs.frozen(kw_only=True)
class CallCounts:
    """HTTP requests sent to each side during a run."""

    acumatica: int = 0
    expensify: int = 0


@attrs.frozen(kw_only=True)
class PostResult:
    """The result of :func:`expense_bridge.post_report` / :func:`expense_bridge.replay`."""

    outcome: ReportOutcome
    calls: CallCounts = CallCounts()

    @property
    def report_id(self) -> str:
        """The report."""
        return self.outcome.report_id

    @property
    def status(self) -> ReportStatus | None:
        """The report's state after the call."""
        return self.outcome.status

    @property
    def outcomes(self) -> tuple[ReportOutcome, ...]:
        """The one outcome, as a tuple (same shape as :class:`SyncResult`)."""
        return (self.outcome,)

    @property
    def held(self) -> int:
        """1 if the report is held."""
        return int(self.outcome.action is Action.HELD)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "outcomes": [self.outcome.to_dict()],
            "calls": attrs.asdict(self.calls),
        }


@attrs.frozen(kw_only=True)
class SyncResult:
    """The result of one :func:`expense_bridge.sync` run."""

    run_id: str
    started: datetime
    finished: datetime
    dry_run: bool
    outcomes: tuple[ReportOutcome, ...]
    calls: CallCounts
    pulled: int
    bookmark_before: datetime | None
    bookmark_after: datetime | None
    errors: tuple[str, ...] = ()  # run-level failures (acknowledgement, connection…)
    warnings: tuple[str, ...] = ()  # preflight findings (e.g. categories on inactive accounts)

    def count(self, action: Action) -> int:
        """How many reports ended with ``action``."""
        return sum(1 for o in self.outcomes if o.action is action)

    @property
    def counts(self) -> dict[str, int]:
        """Reports per action."""
        found = Counter(o.action.value for o in self.outcomes)
        return {a.value: found.get(a.value, 0) for a in Action}

    @property
    def held(self) -> int:
        """Reports held for a person."""
        return self.count(Action.HELD)

    @property
    def posted(self) -> int:
        """Reports whose documents were created in this run."""
        return self.count(Action.POSTED)

    @property
    def ok(self) -> bool:
        """No run-level failure and no report left pending."""
        return not self.errors and self.count(Action.PENDING) == 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json`` output)."""
        return {
            "run_id": self.run_id,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat(),
            "dry_run": self.dry_run,
            "pulled": self.pulled,
            "counts": self.counts,
            "calls": attrs.asdict(self.calls),
            "bookmark_before": self.bookmark_before.isoformat() if self.bookmark_before else None,
            "bookmark_after": self.bookmark_after.isoformat() if self.bookmark_after else None,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "outcomes": [o.to_dict() for o in self.outcomes],
        }
