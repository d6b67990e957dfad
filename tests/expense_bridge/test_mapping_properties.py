"""Properties of the mapping on consistent generated reports (see ``strategies.py``)."""

from __future__ import annotations

import random
from decimal import Decimal

import attrs
from hypothesis import given
from hypothesis import strategies as st

from acumatica_client import Bill, JournalTransaction
from expense_bridge._keys import KEY_MAX_LENGTH, DocumentKind, DocumentPart, key_from_description
from expense_bridge._rules import CardTarget
from expense_bridge.mapping import content_fingerprint, plan_report

from .strategies import CURRENCY_EXPONENTS, World, expense_cents_in_report_currency, worlds


def plan(world: World):
    return plan_report(world.report, **world.kwargs())


def signed_lines(doc) -> list[Decimal]:
    """Each expense line's amount, signed as spend (positive) / refund (negative)."""
    d = doc.document
    if isinstance(d, Bill):
        sign = -1 if d.type == "Debit Adj." else 1
        return [sign * line.extended_cost for line in d.details]
    return [line.debit_amount - line.credit_amount for line in d.details[:-1]]


def minor_units(amount: Decimal, currency: str) -> int:
    exponent = CURRENCY_EXPONENTS[currency]
    scaled = amount.scaleb(exponent)
    assert scaled == scaled.to_integral_value()
    return int(scaled)


class TestMappingProperties:
    """The mapping is deterministic, preserves totals and balances journals."""

    @given(worlds())
    def test_deterministic(self, world):
        first, second = plan(world), plan(world)
        assert first == second
        # Equal but independently built inputs give equal output too.
        assert plan(attrs.evolve(world, report=attrs.evolve(world.report))) == first

    @given(
        st.sampled_from([CardTarget.AP_BILL, CardTarget.JOURNAL]).flatmap(
            lambda target: worlds(card_target=target)
        )
    )
    def test_lines_sum_to_report_total(self, world):
        docs = plan(world)
        cur = world.report.currency
        total = sum(minor_units(a, cur) for doc in docs for a in signed_lines(doc))
        assert total * 10 ** (2 - CURRENCY_EXPONENTS[cur]) == world.report.total_cents
        assert sum(minor_units(doc.total, cur) for doc in docs) == total

    @given(worlds(card_target=CardTarget.SKIP))
    def test_skipped_card_spend_is_left_out(self, world):
        docs = plan(world)
        assert all(doc.part is DocumentPart.REIMBURSABLE for doc in docs)
        reimbursable = [e for e in world.report.expenses if e.reimbursable]
        expected = sum(
            expense_cents_in_report_currency(e, world.report.currency) for e in reimbursable
        )
        got = sum(doc.total for doc in docs)
        assert got == Decimal(expected).scaleb(-2)

    @given(worlds())
    def test_every_line_posts_to_its_category_gl_code(self, world):
        gl_of = {c.name: c.gl_code for c in world.policy.categories}
        for doc in plan(world):
            part_expenses = [
                e
                for e in world.report.expenses
                if (e.reimbursable) == (doc.part is DocumentPart.REIMBURSABLE)
            ]
            details = doc.document.details
            expense_lines = details if isinstance(doc.document, Bill) else details[:-1]
            assert len(expense_lines) == len(part_expenses)
            for expense, line in zip(part_expenses, expense_lines, strict=True):
                assert line.account == gl_of[expense.category]

    @given(worlds())
    def test_journals_balance_and_carry_the_key(self, world):
        for doc in plan(world):
            if not isinstance(doc.document, JournalTransaction):
                continue
            details = doc.document.details
            assert sum(d.debit_amount for d in details) == sum(d.credit_amount for d in details)
            assert all(d.reference_nbr == doc.key for d in details)
            assert all(d.debit_amount >= 0 and d.credit_amount >= 0 for d in details)
            assert key_from_description(doc.document.description) == doc.key
            liability = details[-1].account
            expected = (
                world.rules.employee_liability_account
                if doc.part is DocumentPart.REIMBURSABLE
                else world.rules.card_liability_account
            )
            assert liability == expected

    @given(worlds())
    def test_bills_are_positive_and_keyed(self, world):
        for doc in plan(world):
            if not isinstance(doc.document, Bill):
                continue
            bill = doc.document
            assert bill.vendor_ref == doc.key
            net = sum(line.extended_cost for line in bill.details)
            assert net >= 0
            assert bill.type == ("Debit Adj." if doc.total < 0 else "Bill")
            for line in bill.details:
                assert line.qty == 1
                assert line.unit_cost == line.extended_cost

    @given(worlds())
    def test_keys_unique_per_part_and_short(self, world):
        docs = plan(world)
        keys = [doc.key for doc in docs]
        assert len(set(keys)) == len(keys)
        assert len({doc.part for doc in docs}) == len(docs)
        assert all(len(k) <= KEY_MAX_LENGTH for k in keys)
        assert all(doc.kind in DocumentKind for doc in docs)

    @given(worlds())
    def test_amounts_have_the_currency_precision(self, world):
        exponent = CURRENCY_EXPONENTS[world.report.currency]
        for doc in plan(world):
            assert doc.currency == world.report.currency
            assert doc.document.currency_id == world.report.currency
            for line in signed_lines(doc):
                assert line.as_tuple().exponent == -exponent

    @given(worlds(), st.randoms(use_true_random=False))
    def test_fingerprint_ignores_expense_order_and_status(self, world, rnd: random.Random):
        report = world.report
        shuffled = list(report.expenses)
        rnd.shuffle(shuffled)
        moved = attrs.evolve(report, expenses=tuple(shuffled))
        assert content_fingerprint(moved) == content_fingerprint(report)
        paid = attrs.evolve(report, status=report.status.REIMBURSED)
        assert content_fingerprint(paid) == content_fingerprint(report)

    @given(worlds(), st.integers(1, 10_000))
    def test_fingerprint_changes_with_amounts(self, world, delta):
        report = world.report
        first = report.expenses[0]
        changed = attrs.evolve(first, amount_cents=first.amount_cents + delta)
        other = attrs.evolve(report, expenses=(changed, *report.expenses[1:]))
        assert content_fingerprint(other) != content_fingerprint(report)
        assert all(doc.fingerprint == content_fingerprint(report) for doc in plan(world))
