"""Closed financial periods: which ``PostPeriod`` a document goes to, or why it is held.

Acumatica's ``FinancialPeriod`` entity (GL201000, Default contract) is one record per
financial year with a ``Details`` row per period: ``FinancialPeriodID`` (the contract
writes it ``MM-YYYY``, e.g. ``"03-2026"``; the database form ``YYYYMM`` is accepted too),
``StartDate``, ``EndDate`` (exclusive in Acumatica's own tables; read as "the period
ends before EndDate" when EndDate is the next period's start, inclusive otherwise),
``Status`` (``Open``, ``Closed``, ``Locked``, ``Inactive``) and per-module closing flags
``ClosedInAP``, ``ClosedInAR``, ``ClosedInCA``, ``ClosedInFA``, ``ClosedInIN``.

A period is open for a module when its ``Status`` is ``Open`` and, for AP, not
``ClosedInAP`` (GL documents only look at ``Status``). A bill or claim goes by AP; a
journal by GL.

Rule (``rules.closed_period``): ``"next_open"`` posts into the first period open for the
module that starts on or after the closed one (``PostPeriod`` set, the document date
kept); ``"hold"`` (and ``next_open`` when no later period is open) holds the report with
``EB-PERIOD-CLOSED``, naming the period. A date outside every known period holds with
``EB-PERIOD-UNKNOWN``.

This module is pure (it parses records it is given). The ledger reads the tenant's
``FinancialPeriod`` records once per run into the catalog (``LedgerCatalog.periods``);
:func:`with_periods` applies the rule to every planned document while it is planned, so
a held report is held before any write. An expense claim's post period lives in the
linked ``FinancialDetails.PosttoPeriod``
(:class:`~acumatica_client.ExpenseClaimFinancialDetail`): under ``next_open`` it is set
there as a bill's ``PostPeriod`` is (the claim's date kept).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

import attrs

from ._errors import ErrorCode, MappingError, Problem

if TYPE_CHECKING:
    from .mapping import PlannedDocument

__all__ = [
    "ClosedPeriodRule",
    "Module",
    "Period",
    "PeriodCalendar",
    "PeriodDecision",
    "parse_period_id",
    "with_periods",
]

_MM_YYYY: Final = re.compile(r"(\d{2})-?(\d{4})")
_YYYYMM: Final = re.compile(r"(\d{4})(\d{2})")


class ClosedPeriodRule(enum.Enum):
    """What happens to a document dated in a closed period."""

    NEXT_OPEN = "next_open"
    HOLD = "hold"


class Module(enum.Enum):
    """Which module's closing counts for a document."""

    AP = "AP"  # bills, expense claims
    GL = "GL"  # journal transactions


def parse_period_id(text: str) -> tuple[int, int]:
    """``(year, period number)`` of ``"03-2026"``, ``"032026"`` or ``"202603"``."""
    value = text.strip()
    if "-" in value or len(value) != 6:
        match = _MM_YYYY.fullmatch(value)
        if match is None:
            raise ValueError(f"not a financial period ID like '03-2026': {text!r}")
        return int(match.group(2)), int(match.group(1))
    head, tail = int(value[:4]), int(value[4:])
    if head > 1900 and 1 <= tail <= 99:  # YYYYPP
        return head, tail
    month, year = int(value[:2]), int(value[2:])
    return year, month


def _date(value: Any, field: str) -> date:
    if isinstance(value, Mapping):
        value = value.get("value")
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    raise ValueError(f"{field}: expected a date, got {value!r}")


def _plain(value: Any) -> Any:
    return value.get("value") if isinstance(value, Mapping) else value


@attrs.frozen(kw_only=True, order=False)
class Period:
    """One financial period as the contract describes it."""

    period_id: str  # as the contract writes it (what PostPeriod takes)
    year: int
    number: int
    start: date
    end: date  # the contract's EndDate
    status: str
    closed_in: frozenset[str] = frozenset()  # modules whose ClosedIn<module> is true

    def contains(self, day: date, *, next_start: date | None) -> bool:
        """``day`` falls in this period (EndDate exclusive when it is the next start)."""
        if day < self.start:
            return False
        return day < self.end if next_start == self.end else day <= self.end

    def open_for(self, module: Module) -> bool:
        """Open for documents of ``module``."""
        if self.status != "Open":  # Closed, Locked, Inactive
            return False
        return module is Module.GL or "AP" not in self.closed_in


@attrs.frozen(kw_only=True)
class PeriodDecision:
    """Where a document goes: ``post_period`` (None: its date's period, left to Acumatica)."""

    post_period: str | None
    problem: Problem | None = None
    moved_from: str | None = None  # the closed period skipped

    @property
    def held(self) -> bool:
        """The report must be held."""
        return self.problem is not None


@attrs.frozen
class PeriodCalendar:
    """The tenant's periods in order (from ``FinancialPeriod`` records)."""

    periods: tuple[Period, ...]

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> PeriodCalendar:
        """Parse ``FinancialPeriod`` records (wire JSON, ``{"value": …}`` fields or plain).

        Raises ``ValueError`` naming the record and field of anything unreadable.
        """
        periods: list[Period] = []
        for record in records:
            year_text = _plain(record.get("FinancialYear"))
            for i, row in enumerate(record.get("Details") or ()):
                where = f"FinancialPeriod {year_text} Details[{i}]"
                pid = _plain(row.get("FinancialPeriodID"))
                if not isinstance(pid, str):
                    raise ValueError(f"{where}.FinancialPeriodID is missing")  # noqa: TRY004 - bad data
                try:
                    year, number = parse_period_id(pid)
                except ValueError as exc:
                    raise ValueError(f"{where}.FinancialPeriodID: {exc}") from None
                closed = frozenset(
                    module
                    for module in ("AP", "AR", "CA", "FA", "IN")
                    if _plain(row.get(f"ClosedIn{module}")) is True
                )
                periods.append(
                    Period(
                        period_id=pid,
                        year=year,
                        number=number,
                        start=_date(row.get("StartDate"), f"{where}.StartDate"),
                        end=_date(row.get("EndDate"), f"{where}.EndDate"),
                        status=str(_plain(row.get("Status")) or ""),
                        closed_in=closed,
                    )
                )
        periods.sort(key=lambda p: (p.start, p.year, p.number))
        return cls(tuple(periods))

    def period_of(self, day: date) -> Period | None:
        """The (non-adjustment) period ``day`` falls in."""
        for index, period in enumerate(self.periods):
            following = self.periods[index + 1].start if index + 1 < len(self.periods) else None
            if period.start == period.end and following == period.start:
                continue  # an adjustment period (no days of its own)
            if period.contains(day, next_start=following):
                return period
        return None

    def decide(
        self, day: date, module: Module, rule: ClosedPeriodRule, *, field: str = "date"
    ) -> PeriodDecision:
        """Where a document dated ``day`` posts under ``rule`` (see the module docstring)."""
        period = self.period_of(day)
        if period is None:
            return PeriodDecision(
                post_period=None,
                problem=Problem(
                    code=ErrorCode.PERIOD_UNKNOWN,
                    field=field,
                    message=f"{day.isoformat()} is in no financial period of the tenant",
                    fix="Generate the financial periods for that year in Acumatica "
                    "(Master Financial Calendar, GL201000).",
                ),
            )
        if period.open_for(module):
            return PeriodDecision(post_period=None)
        later = [p for p in self.periods if p.start > period.start and p.open_for(module)]
        if rule is ClosedPeriodRule.NEXT_OPEN and later:
            return PeriodDecision(post_period=later[0].period_id, moved_from=period.period_id)
        why = "no later period is open" if rule is ClosedPeriodRule.NEXT_OPEN else "hold"
        return PeriodDecision(
            post_period=None,
            moved_from=None,
            problem=Problem(
                code=ErrorCode.PERIOD_CLOSED,
                field=field,
                message=(
                    f"{day.isoformat()} falls in financial period {period.period_id}, "
                    f"which is closed for {module.value} ({why})"
                ),
                fix=(
                    f"Reopen period {period.period_id} for {module.value} in Acumatica, or "
                    "set rules.closed_period = 'next_open' to post into the next open "
                    "period, then replay the report."
                ),
            ),
        )

    def open_periods(self, module: Module) -> Sequence[Period]:
        """Periods open for ``module``, in order."""
        return [p for p in self.periods if p.open_for(module)]


def with_periods(
    planned: Sequence[PlannedDocument],
    calendar: PeriodCalendar | None,
    rule: ClosedPeriodRule,
    report_id: str,
) -> tuple[PlannedDocument, ...]:
    """``planned`` with each document's period decided by ``calendar`` under ``rule``.

    Bills and claims go by AP, journals by GL. ``next_open`` sets a bill's or journal's
    ``PostPeriod`` and a claim's ``FinancialDetails.PosttoPeriod`` (its date kept).
    Raises :class:`~expense_bridge.MappingError` with every
    ``EB-PERIOD-CLOSED``/``EB-PERIOD-UNKNOWN`` problem. No calendar (or an empty one):
    ``planned`` unchanged.
    """
    from acumatica_client import (
        Bill,
        ExpenseClaim,
        ExpenseClaimFinancialDetail,
        JournalTransaction,
    )

    if calendar is None or not calendar.periods:
        return tuple(planned)
    problems: list[Problem] = []
    out: list[PlannedDocument] = []
    for doc in planned:
        body = doc.document
        if isinstance(body, JournalTransaction):
            day, module = body.transaction_date, Module.GL
        else:
            day, module = body.date, Module.AP
        if not isinstance(day, date):
            out.append(doc)
            continue
        if isinstance(day, datetime):
            day = day.date()
        field = f"document[{doc.key}].date"
        decision = calendar.decide(day, module, rule, field=field)
        if decision.problem is not None:
            problems.append(decision.problem)
            continue
        if decision.post_period is not None:
            if isinstance(body, Bill | JournalTransaction):
                doc = attrs.evolve(
                    doc, document=attrs.evolve(body, post_period=decision.post_period)
                )
            elif isinstance(body, ExpenseClaim):
                financial = body.financial_details
                if not isinstance(financial, ExpenseClaimFinancialDetail):
                    financial = ExpenseClaimFinancialDetail()
                financial = attrs.evolve(financial, post_to_period=decision.post_period)
                doc = attrs.evolve(doc, document=attrs.evolve(body, financial_details=financial))
        out.append(doc)
    if problems:
        raise MappingError(report_id, tuple(problems))
    return tuple(out)
