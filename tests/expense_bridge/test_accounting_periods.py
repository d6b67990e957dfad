"""Closed financial periods (issue 11): the PostPeriod decision over parsed periods."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from expense_bridge import ErrorCode
from expense_bridge._periods import (
    ClosedPeriodRule,
    Module,
    PeriodCalendar,
    parse_period_id,
)

NEXT, HOLD = ClosedPeriodRule.NEXT_OPEN, ClosedPeriodRule.HOLD


def row(month: int, status: str = "Open", *, year: int = 2026, ap_closed: bool = False,
        wire: bool = True) -> dict[str, Any]:  # fmt: skip
    """One Details row as the contract answers it (``{"value": …}`` fields)."""
    start = date(year, month, 1)
    end = date(year + month // 12, month % 12 + 1, 1)  # EndDate = next start (exclusive)
    plain = {
        "FinancialPeriodID": f"{month:02d}-{year}",
        "StartDate": f"{start.isoformat()}T00:00:00+00:00",
        "EndDate": f"{end.isoformat()}T00:00:00+00:00",
        "Status": status,
        "ClosedInAP": ap_closed,
        "ClosedInAR": False,
    }
    return {k: {"value": v} for k, v in plain.items()} if wire else plain


def calendar(*rows: dict[str, Any]) -> PeriodCalendar:
    return PeriodCalendar.from_records(
        [{"FinancialYear": {"value": "2026"}, "Details": list(rows)}]
    )


YEAR = calendar(
    row(1, "Closed", ap_closed=True), row(2, "Open", ap_closed=True), row(3), row(4),
    *(row(m, "Inactive") for m in range(5, 13)),
)  # fmt: skip


def test_period_ids_in_every_form() -> None:
    assert parse_period_id("03-2026") == (2026, 3)
    assert parse_period_id("032026") == (2026, 3)
    assert parse_period_id("202603") == (2026, 3)
    with pytest.raises(ValueError, match="03/2026"):
        parse_period_id("03/2026")


def test_an_open_period_posts_by_its_date() -> None:
    decision = YEAR.decide(date(2026, 3, 31), Module.AP, HOLD)
    assert (decision.post_period, decision.problem) == (None, None)


def test_next_open_moves_to_the_first_period_open_for_the_module() -> None:
    ap = YEAR.decide(date(2026, 1, 15), Module.AP, NEXT)
    assert (ap.post_period, ap.moved_from, ap.held) == ("03-2026", "01-2026", False)
    gl = YEAR.decide(date(2026, 1, 15), Module.GL, NEXT)  # February is open for GL
    assert (gl.post_period, gl.moved_from) == ("02-2026", "01-2026")
    feb = YEAR.decide(date(2026, 2, 28), Module.AP, NEXT)  # closed in AP only
    assert feb.post_period == "03-2026"
    assert YEAR.decide(date(2026, 2, 28), Module.GL, HOLD).post_period is None


def test_hold_names_the_period_with_a_stable_code() -> None:
    decision = YEAR.decide(date(2026, 1, 15), Module.AP, HOLD, field="date")
    assert decision.held
    assert decision.problem is not None
    assert decision.problem.code is ErrorCode.PERIOD_CLOSED
    assert "01-2026" in decision.problem.message
    assert "01-2026" in decision.problem.fix
    assert decision.problem.field == "date"


def test_next_open_holds_when_nothing_later_is_open() -> None:
    decision = YEAR.decide(date(2026, 6, 1), Module.GL, NEXT)  # Inactive to year end
    assert decision.problem is not None
    assert decision.problem.code is ErrorCode.PERIOD_CLOSED
    assert "no later period is open" in decision.problem.message


def test_a_date_outside_the_calendar_is_unknown() -> None:
    decision = YEAR.decide(date(2027, 1, 5), Module.AP, NEXT)
    assert decision.problem is not None
    assert decision.problem.code is ErrorCode.PERIOD_UNKNOWN


def test_end_date_is_exclusive_when_it_is_the_next_start_and_inclusive_otherwise() -> None:
    assert YEAR.period_of(date(2026, 2, 1)).period_id == "02-2026"  # type: ignore[union-attr]
    inclusive = calendar({**row(1, wire=False), "EndDate": "2026-01-31"}, row(2, wire=False))
    assert inclusive.period_of(date(2026, 1, 31)).period_id == "01-2026"  # type: ignore[union-attr]


def test_unreadable_records_name_the_record_and_field() -> None:
    with pytest.raises(ValueError, match=r"FinancialPeriod 2026 Details\[0\]\.StartDate"):
        calendar({**row(1, wire=False), "StartDate": None})
    with pytest.raises(ValueError, match=r"Details\[0\]\.FinancialPeriodID"):
        calendar({**row(1, wire=False), "FinancialPeriodID": "Q1"})


@given(
    statuses=st.lists(st.sampled_from(["Open", "Closed", "Locked", "Inactive"]),
                      min_size=12, max_size=12),
    ap_closed=st.lists(st.booleans(), min_size=12, max_size=12),
    day=st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)),
    module=st.sampled_from(list(Module)),
    rule=st.sampled_from(list(ClosedPeriodRule)),
)  # fmt: skip
def test_a_document_never_lands_in_a_closed_period(
    statuses: list[str], ap_closed: list[bool], day: date, module: Module,
    rule: ClosedPeriodRule,
) -> None:  # fmt: skip
    months = zip(range(1, 13), statuses, ap_closed, strict=True)
    cal = calendar(*(row(m, s, ap_closed=c) for m, s, c in months))
    own = cal.period_of(day)
    assert own is not None
    assert own.start <= day
    decision = cal.decide(day, module, rule)
    if decision.problem is not None:
        assert decision.post_period is None
        assert decision.problem.code is ErrorCode.PERIOD_CLOSED
        assert not own.open_for(module)
        return
    if decision.post_period is None:
        assert own.open_for(module)
    else:
        assert rule is NEXT
        target = next(p for p in cal.periods if p.period_id == decision.post_period)
        assert target.open_for(module)
        assert target.start > own.start
        between = [p for p in cal.periods if own.start < p.start < target.start]
        assert not any(p.open_for(module) for p in between)  # the FIRST open one
