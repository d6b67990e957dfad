"""Every mapping problem is reported with its code, field path and fix, all at once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from expense_bridge._errors import ErrorCode, MappingError
from expense_bridge.mapping import plan_report

from .strategies import INJECTABLE, World, compatible, inject_problem, worlds

# Problems about the report or the rules, not about one expense.
REPORT_LEVEL = {
    ErrorCode.REPORT_EMPTY,
    ErrorCode.REPORT_ID_INVALID,
    ErrorCode.CURRENCY_UNSUPPORTED,
    ErrorCode.DATE_MISSING,
    ErrorCode.DEFAULT_VALUE_UNKNOWN,
    ErrorCode.RULES_INVALID,
    ErrorCode.SUBMITTER_NO_VENDOR,
    ErrorCode.CARD_TARGET_INCOMPLETE,
    ErrorCode.REIMBURSABLE_TARGET_INCOMPLETE,
    ErrorCode.REPORT_FIELD_UNKNOWN,
    ErrorCode.CURRENCY_NOT_BASE,
}


def problems_of(world: World):
    with pytest.raises(MappingError) as info:
        plan_report(world.report, **world.kwargs())
    assert info.value.report_id == world.report.report_id
    return info.value.problems


def base_for(code: ErrorCode):
    return worlds(currency="JPY") if code is ErrorCode.CURRENCY_PRECISION else worlds()


class TestEachCode:
    """One injected problem gives exactly that code at the right place with a fix."""

    @pytest.mark.parametrize(
        "code", sorted(INJECTABLE, key=lambda c: c.value), ids=lambda c: c.value
    )
    @given(data=st.data())
    def test_code_field_and_fix(self, code, data):
        clean = data.draw(base_for(code))
        index = data.draw(st.integers(0, len(clean.report.expenses) - 1))
        world, field = inject_problem(clean, code, index)
        problems = problems_of(world)
        assert {p.code for p in problems} == {code}
        matching = [p for p in problems if p.field == field]
        assert matching, f"no {code.value} problem at {field}: {problems}"
        for p in problems:
            assert p.fix.strip()
            assert p.message.strip()
            assert p.fix != p.message
        if code in REPORT_LEVEL:
            assert all(p.transaction_id is None for p in matching)
        else:
            tid = world.report.expenses[index].transaction_id
            assert any(p.transaction_id == tid for p in matching)

    def test_every_code_a_mapping_can_raise_is_injectable(self):
        posting_only = {
            ErrorCode.CHANGED_AFTER_POSTING,
            ErrorCode.LEDGER_REJECTED,
            ErrorCode.PERIOD_CLOSED,  # expense_bridge._periods, not plan_report
            ErrorCode.PERIOD_UNKNOWN,
            ErrorCode.TAX_UNMAPPED,  # expense_bridge._tax
            ErrorCode.DOCUMENT_MISMATCH,
            ErrorCode.TOTAL_MISMATCH,
            ErrorCode.REPORT_UNPARSED,
        }
        assert set(ErrorCode) - posting_only == INJECTABLE


class TestAllProblemsTogether:
    """A report with several problems lists every one of them in one MappingError."""

    @given(data=st.data())
    def test_all_listed(self, data):
        candidates = sorted(INJECTABLE - {ErrorCode.REPORT_EMPTY}, key=lambda c: c.value)
        codes = data.draw(
            st.lists(st.sampled_from(candidates), min_size=2, max_size=7, unique=True).filter(
                compatible
            )
        )
        currency = "JPY" if ErrorCode.CURRENCY_PRECISION in codes else None
        world = data.draw(
            worlds(currency=currency, min_expenses=len(codes), max_expenses=len(codes) + 2)
        )
        expected = []
        for index, code in enumerate(codes):
            world, field = inject_problem(world, code, index)
            expected.append((code, field))
        problems = problems_of(world)
        found = {(p.code, p.field) for p in problems}
        for pair in expected:
            assert pair in found, f"{pair} missing from {problems}"
        # Deterministic: the same report gives the same list in the same order.
        assert problems_of(world) == problems

    @given(worlds())
    def test_empty_report_is_its_own_problem(self, world):
        world, _ = inject_problem(world, ErrorCode.REPORT_EMPTY)
        (problem,) = problems_of(world)
        assert (problem.code, problem.field) == (ErrorCode.REPORT_EMPTY, "expenses")
