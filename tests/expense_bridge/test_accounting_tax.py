"""Tax mapping (issue 11): tax categories on lines, or tax split onto its own account."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from acumatica_client import Bill, JournalTransaction
from expense_bridge import ErrorCode, MappingError, PostingRules, ReimbursableTarget
from expense_bridge._keys import DocumentPart
from expense_bridge._tax import TaxRules, apply_tax, tax_in_report_currency, tax_problems
from expense_bridge.mapping import PlannedDocument, plan_report
from expensify_client import Expense

from . import strategies as S
from .fakes import CATALOG, POLICY, expense, report

DAY = date(2026, 11, 20)
RULES = PostingRules(employee_liability_account="21000", card_liability_account="22000")
VAT = {"has_tax": True, "tax_amount_cents": 2000, "tax_code": "VAT20", "tax_rate": Decimal(20)}


def planned(rep: Any, **rules: Any) -> PlannedDocument:
    docs = plan_report(rep, policy=POLICY, catalog=CATALOG, rules=attrs.evolve(RULES, **rules),
                       posting_date=DAY)  # fmt: skip
    return docs[0]


def details(doc: PlannedDocument) -> tuple[Any, ...]:
    found = doc.document.details
    assert isinstance(found, tuple)
    return found


def test_tax_categories_go_on_the_taxed_lines_only() -> None:
    rep = report("R1", expense("R1-1", 12000, **VAT), expense("R1-2", 3000))
    doc = apply_tax(planned(rep), rep, TaxRules(categories={"VAT20": "STANDARD"}))
    first, second = details(doc)
    assert (first.tax_category, first.unit_cost) == ("STANDARD", Decimal("120.00"))
    assert second.tax_category != "STANDARD"
    assert second == details(planned(rep))[1]  # untaxed: unchanged
    assert doc.total == planned(rep).total


def test_an_unmapped_tax_code_holds_with_a_fix() -> None:
    gst = expense("R2-2", 500, has_tax=True, tax_amount_cents=50, tax_name="GST")
    rep = report("R2", expense("R2-1", 12000, **VAT), gst)
    with pytest.raises(MappingError) as caught:
        apply_tax(planned(rep), rep, TaxRules(categories={"VAT20": "STANDARD"}))
    (problem,) = caught.value.problems
    assert problem.code is ErrorCode.TAX_UNMAPPED
    assert (problem.field, problem.transaction_id) == ("expenses[1].tax_code", "R2-2")
    assert "'GST'" in problem.message
    assert "rules.tax_categories" in problem.fix


def test_tax_larger_than_the_expense_is_refused() -> None:
    rep = report("R3", expense("R3-1", 100, has_tax=True, tax_amount_cents=500, tax_code="X"))
    problems = tax_problems(rep, TaxRules(tax_account="23000"))
    assert [(p.code, p.field) for p in problems] == [
        (ErrorCode.TAX_UNMAPPED, "expenses[0].tax_amount_cents")
    ]


def test_tax_on_its_own_account_keeps_the_bill_total() -> None:
    rep = report("R4", expense("R4-1", 12000, **VAT), expense("R4-2", 3000))
    doc = apply_tax(planned(rep), rep, TaxRules(tax_account="23000"))
    assert [(d.account, d.unit_cost) for d in details(doc)] == [
        ("61000", Decimal("100.00")),
        ("23000", Decimal("20.00")),
        ("61000", Decimal("30.00")),
    ]
    assert details(doc)[1].transaction_description.startswith("Tax VAT20: ")
    assert sum(d.unit_cost for d in details(doc)) == Decimal("150.00")


def test_a_debit_adjustment_splits_with_the_flipped_sign() -> None:
    rep = report("R5", expense("R5-1", -12000, has_tax=True, tax_amount_cents=-2000,
                               tax_code="VAT20"), expense("R5-2", 3000))  # fmt: skip
    before = planned(rep)
    assert isinstance(before.document, Bill)
    assert before.document.type == "Debit Adj."
    doc = apply_tax(before, rep, TaxRules(tax_account="23000"))
    assert [d.unit_cost for d in details(doc)] == [
        Decimal("100.00"), Decimal("20.00"), Decimal("-30.00")
    ]  # fmt: skip
    assert sum(d.unit_cost for d in details(doc)) == sum(d.unit_cost for d in details(before))


def test_journal_split_stays_balanced() -> None:
    rep = report("R6", expense("R6-1", 12000, **VAT), expense("R6-2", -1000, has_tax=True,
                                                               tax_amount_cents=-100,
                                                               tax_code="VAT20"))  # fmt: skip
    doc = apply_tax(planned(rep, reimbursable_target=ReimbursableTarget.JOURNAL), rep,
                    TaxRules(tax_account="23000"))  # fmt: skip
    assert isinstance(doc.document, JournalTransaction)
    lines = details(doc)
    debits = sum(d.debit_amount for d in lines)
    credits = sum(d.credit_amount for d in lines)
    assert debits == credits
    assert [(d.account, d.debit_amount, d.credit_amount) for d in lines[:4]] == [
        ("61000", Decimal("100.00"), Decimal("0.00")),
        ("23000", Decimal("20.00"), Decimal("0.00")),
        ("61000", Decimal("0.00"), Decimal("9.00")),
        ("23000", Decimal("0.00"), Decimal("1.00")),
    ]


def test_foreign_tax_is_converted_at_the_expense_rate() -> None:
    exp = Expense(transaction_id="R7-1", report_id="R7", amount_cents=10000, currency="EUR",
                  created=date(2026, 11, 10), converted_amount_cents=11000, has_tax=True,
                  tax_amount_cents=1900, tax_code="VAT19")  # fmt: skip
    assert tax_in_report_currency(exp, Decimal("110.00"), "USD") == Decimal("20.90")
    assert tax_in_report_currency(exp, Decimal("-110.00"), "USD") == Decimal("-20.90")
    assert tax_in_report_currency(exp, Decimal("16500"), "JPY") == Decimal("3135")


@given(
    world=S.worlds(currency="USD", reimbursable=True),
    shares=st.lists(st.integers(0, 100), min_size=20, max_size=20),
    target=st.sampled_from([ReimbursableTarget.AP_BILL, ReimbursableTarget.JOURNAL]),
)
def test_splitting_tax_never_changes_what_the_document_totals(
    world: S.World, shares: list[int], target: ReimbursableTarget
) -> None:
    taxed = tuple(
        attrs.evolve(
            e, has_tax=True, tax_code="T", tax_amount_cents=e.effective_amount_cents * share // 100
        )
        for e, share in zip(world.report.expenses, shares, strict=False)
    )
    rep = attrs.evolve(world.report, expenses=taxed)
    rules = attrs.evolve(world.rules, reimbursable_target=target)
    try:
        (doc,) = plan_report(rep, policy=world.policy, catalog=world.catalog, rules=rules,
                             posting_date=world.posting_date)  # fmt: skip
    except MappingError:
        return  # a world whose rules cannot post this target (covered by the mapping tests)
    split = apply_tax(doc, rep, TaxRules(tax_account="TAX"))
    before, after = details(doc), details(split)
    assert split.total == doc.total
    if isinstance(doc.document, Bill):
        assert sum(d.unit_cost for d in after) == sum(d.unit_cost for d in before)
        assert len(after) == len(before) + len(taxed)
    else:
        assert sum(d.debit_amount for d in after) == sum(d.credit_amount for d in after)
        assert after[-1] == before[-1]  # the liability line is untouched
    assert all(d.account == "TAX" for d in after[1 : 2 * len(taxed) : 2])
    assert doc.part is DocumentPart.REIMBURSABLE


# --------------------------------------------------------------------------- through sync()


def _world(tmp_path: Any, **rules: Any) -> Any:
    from .test_accounting_support import make_world

    world = make_world(tmp_path, rules=PostingRules(employee_liability_account="21000", **rules))
    world.acumatica.seed("Account", [{"AccountCD": "23000", "Type": "Liability", "Active": True}])
    return world


TAXED = {"has_tax": True, "tax_amount_cents": 1667, "tax_code": "VAT20",
         "tax_rate": Decimal(20)}  # fmt: skip


def test_sync_posts_tax_on_its_own_account(tmp_path: Any) -> None:
    from .test_accounting_support import close_world

    world = _world(tmp_path, tax_account="23000")
    try:
        rid = world.add_approved(1, amount_cents=10_000, **TAXED)
        result = world.sync()
        assert result.posted == 1
        (bill,) = world.acumatica.records("Bill")
        assert bill["VendorRef"] == f"EXB-{rid}"
        lines = [(d["Account"], Decimal(str(d["ExtendedCost"]))) for d in bill["Details"]]
        assert lines == [("61000", Decimal("83.33")), ("23000", Decimal("16.67"))]
        assert Decimal(str(bill["Amount"])) == Decimal("100.00")
    finally:
        close_world(world)


def test_sync_holds_an_unmapped_tax_code_and_posts_the_rest(tmp_path: Any) -> None:
    from expense_bridge import Action

    from .test_accounting_support import close_world

    world = _world(tmp_path, tax_categories={"GST": "GSTCAT"})
    world.acumatica.seed_tax_categories("GSTCAT")  # the tenant refuses unknown categories
    try:
        held = world.add_approved(1, **TAXED)
        fine = world.add_approved(2, has_tax=True, tax_amount_cents=500, tax_code="GST")
        result = world.sync()
        outcomes = {o.report_id: o for o in result.outcomes}
        assert outcomes[held].action is Action.HELD
        assert [p.code for p in outcomes[held].problems] == [ErrorCode.TAX_UNMAPPED]
        assert outcomes[fine].action is not Action.HELD
        (bill,) = world.acumatica.records("Bill")
        assert bill["VendorRef"] == f"EXB-{fine}"
        assert [d.get("TaxCategory") for d in bill["Details"]] == ["GSTCAT"]
    finally:
        close_world(world)


def test_tax_configuration_names() -> None:
    from expense_bridge import BridgeConfig, ConfigError

    base: dict[str, Any] = {
        "policies": ["P"],
        "acumatica": {"base_url": "https://x.test", "endpoint_version": "24.200.001",
                      "username": "u", "client_id": "a@b"},
        "expensify": {"partner_user_id": "p"},
    }  # fmt: skip
    cfg = BridgeConfig.from_mapping({**base, "rules": {"tax_categories": {"VAT20": "STD"}}})
    assert cfg.rules.tax_categories == {"VAT20": "STD"}
    assert BridgeConfig.from_mapping(cfg.to_mapping()) == cfg
    with pytest.raises(ConfigError) as caught:
        BridgeConfig.from_mapping(
            {**base, "rules": {"tax_categories": {"VAT20": "STD"}, "tax_account": "23000"}}
        )
    assert [p.field for p in caught.value.problems] == ["rules.tax_account"]
