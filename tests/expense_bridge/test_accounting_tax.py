"""Tax mapping (issue 11): tax categories on lines, or tax split onto its own account; the
expense claim's tax zone (rules.tax_zone) -- planned, configured, and through sync()."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from acumatica_client import (
    UNSET,
    Bill,
    ExpenseClaim,
    ExpenseClaimFinancialDetail,
    JournalTransaction,
    dumps,
    to_wire,
)
from expense_bridge import Action, ErrorCode, MappingError, PostingRules, ReimbursableTarget
from expense_bridge._claims import plan_with_claims
from expense_bridge._keys import DocumentPart
from expense_bridge._tax import (
    TaxRules,
    apply_tax,
    plan_with_tax,
    tax_in_report_currency,
    tax_problems,
    tax_zone_problems,
    tax_zone_warnings,
)
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


# ------------------------------------------------------------------- tax zone (claims)

CLAIM_RULES = attrs.evolve(
    RULES,
    reimbursable_target=ReimbursableTarget.EXPENSE_CLAIM,
    expense_items={"Travel": "TRAVEL", "Meals": "MEALS"},
    tax_categories={"VAT20": "STANDARD"},
)
ZONES = attrs.evolve(CATALOG, tax_zones={"EUVAT", "DOMESTIC"})


def claim_plan(rep: Any, catalog: Any = ZONES, **rules: Any) -> PlannedDocument:
    chosen = attrs.evolve(CLAIM_RULES, **rules)
    docs = plan_with_claims(
        lambda: plan_with_tax(
            lambda: plan_report(rep, policy=POLICY, catalog=catalog, rules=chosen,
                                posting_date=DAY),
            rep, chosen,
        ),
        rep, chosen, catalog,
    )  # fmt: skip
    (doc,) = docs
    return doc


def test_the_tax_zone_goes_on_the_claim_header_and_every_line() -> None:
    rep = report("Z1", expense("Z1-1", 12000, **VAT), expense("Z1-2", 3000, "Meals"))
    doc = claim_plan(rep, tax_zone="EUVAT")
    claim = doc.document
    assert isinstance(claim, ExpenseClaim)
    financial = claim.financial_details
    assert isinstance(financial, ExpenseClaimFinancialDetail)
    assert financial.tax_zone == "EUVAT"
    assert financial.branch is UNSET  # no default branch configured: not written
    taxed, plain = details(doc)
    assert (taxed.tax_zone, plain.tax_zone) == ("EUVAT", "EUVAT")
    assert (taxed.tax_category, plain.tax_category) == ("STANDARD", UNSET)
    assert (taxed.amount, plain.amount) == (Decimal("120.00"), Decimal("30.00"))  # inclusive
    assert (taxed.tax_amount, plain.tax_amount) == (UNSET, UNSET)  # the tenant computes tax
    assert b'"TaxAmount"' not in dumps(to_wire(claim))


def test_without_a_tax_zone_the_claim_names_none() -> None:
    rep = report("Z2", expense("Z2-1", 12000, **VAT))
    claim = claim_plan(rep).document
    assert isinstance(claim, ExpenseClaim)
    assert claim.financial_details is UNSET
    assert [d.tax_zone for d in details(claim_plan(rep))] == [UNSET]
    with_branch = attrs.evolve(ZONES, branches={"MAIN"})
    branch_only = claim_plan(rep, with_branch, default_branch="MAIN").document
    assert isinstance(branch_only, ExpenseClaim)
    assert branch_only.financial_details == ExpenseClaimFinancialDetail(branch="MAIN")


def test_a_tax_zone_the_tenant_lacks_holds_with_a_fix() -> None:
    rep = report("Z3", expense("Z3-1", 12000, **VAT), expense("Z3-2", 500, has_tax=True,
                 tax_amount_cents=50, tax_name="GST"))  # fmt: skip
    with pytest.raises(MappingError) as caught:
        claim_plan(rep, tax_zone="NOWHERE")
    found = {(p.code, p.field) for p in caught.value.problems}
    assert found == {
        (ErrorCode.RULES_INVALID, "rules.tax_zone"),
        (ErrorCode.TAX_UNMAPPED, "expenses[1].tax_code"),  # reported together
    }
    (zone,) = [p for p in caught.value.problems if p.field == "rules.tax_zone"]
    assert "'NOWHERE'" in zone.message
    assert "TX206000" in zone.fix
    rules = attrs.evolve(CLAIM_RULES, tax_zone="NOWHERE")
    assert tax_zone_warnings(rules, ZONES) == [
        "rules.tax_zone: rules.tax_zone 'NOWHERE' is not a tax zone in Acumatica"
    ]
    assert tax_zone_warnings(rules, CATALOG) == []  # zones not read: not checked
    assert tax_zone_problems(attrs.evolve(rules, tax_zone="EUVAT"), ZONES) == []


def test_a_card_only_report_is_not_held_for_the_claim_zone() -> None:
    rep = report("Z4", expense("Z4-1", 4000, reimbursable=False), card=True)
    doc = claim_plan(rep, tax_zone="NOWHERE", tax_categories={})
    assert doc.part is DocumentPart.CARD  # no claim planned: the zone does not apply


@given(world=S.worlds(reimbursable=True, refunds=False), zone=st.sampled_from(["EUVAT", "Z 1"]))
def test_the_zone_is_the_only_thing_it_changes(world: S.World, zone: str) -> None:
    """Planned with and without rules.tax_zone, a claim differs only in its zones."""
    items = {c.name: "ITEM" for c in world.policy.categories}
    rules = attrs.evolve(world.rules, reimbursable_target=ReimbursableTarget.EXPENSE_CLAIM,
                         expense_items=items)  # fmt: skip
    catalog = attrs.evolve(world.catalog, tax_zones={zone})

    def plan(chosen: PostingRules) -> tuple[PlannedDocument, ...]:
        return plan_with_claims(
            lambda: plan_report(world.report, policy=world.policy, catalog=catalog,
                                rules=chosen, posting_date=world.posting_date),
            world.report, chosen, catalog,
        )  # fmt: skip

    try:
        plain = plan(rules)
    except MappingError:
        return  # a world these rules cannot post (covered by the mapping tests)
    zoned = plan(attrs.evolve(rules, tax_zone=zone))
    assert len(zoned) == len(plain)
    for before, after in zip(plain, zoned, strict=True):
        assert after.total == before.total
        assert after.key == before.key
        if not isinstance(after.document, ExpenseClaim):
            assert after == before
            continue
        assert isinstance(before.document, ExpenseClaim)
        lines = details(after)
        assert {d.tax_zone for d in lines} <= {zone}
        assert len(lines) == len(details(before))
        assert [attrs.evolve(d, tax_zone=UNSET) for d in lines] == list(details(before))
        financial = after.document.financial_details
        assert isinstance(financial, ExpenseClaimFinancialDetail)
        assert financial.tax_zone == zone
        old = before.document.financial_details
        assert attrs.evolve(financial, tax_zone=UNSET) == (
            old if isinstance(old, ExpenseClaimFinancialDetail) else ExpenseClaimFinancialDetail()
        )


_CONFIG: dict[str, Any] = {
    "policies": ["P"],
    "acumatica": {"base_url": "https://x.test", "endpoint_version": "24.200.001",
                  "username": "u", "client_id": "a@b"},
    "expensify": {"partner_user_id": "p"},
}  # fmt: skip
_CLAIMS_CONFIG = {"reimbursable_target": "expense_claim", "expense_items": {"Travel": "TRAVEL"}}


def test_the_tax_zone_option_parses_and_round_trips() -> None:
    from expense_bridge import BridgeConfig

    rules = {**_CLAIMS_CONFIG, "tax_zone": " EUVAT ", "tax_categories": {"VAT20": "STD"}}
    cfg = BridgeConfig.from_mapping({**_CONFIG, "rules": rules})
    assert cfg.rules.tax_zone == "EUVAT"
    assert BridgeConfig.from_mapping(cfg.to_mapping()) == cfg
    assert BridgeConfig.from_mapping({**_CONFIG, "rules": _CLAIMS_CONFIG}).rules.tax_zone is None


@pytest.mark.parametrize(
    ("rules", "said"),
    [
        ({**_CLAIMS_CONFIG, "tax_zone": 5}, "must be a string"),
        ({**_CLAIMS_CONFIG, "tax_zone": "   "}, "is not a tax zone ID"),
        ({**_CLAIMS_CONFIG, "tax_zone": "EU\tVAT"}, "is not a tax zone ID"),
        ({"tax_zone": "EUVAT"}, "only used with reimbursable_target 'expense_claim'"),
        ({"reimbursable_target": "journal", "employee_liability_account": "21000",
          "tax_zone": "EUVAT"}, "a bill has no tax zone field"),
    ],
)  # fmt: skip
def test_a_bad_tax_zone_is_a_config_error_naming_the_option(
    rules: dict[str, Any], said: str
) -> None:
    from expense_bridge import BridgeConfig, ConfigError

    with pytest.raises(ConfigError) as caught:
        BridgeConfig.from_mapping({**_CONFIG, "rules": rules})
    (problem,) = caught.value.problems
    assert problem.field == "rules.tax_zone"
    assert said in problem.message
    assert problem.fix


# ------------------------------------------------------- tax zone through sync()

ZONE_CLAIMS: dict[str, Any] = {
    "reimbursable_target": ReimbursableTarget.EXPENSE_CLAIM,
    "expense_items": {"Travel": "TRAVEL", "Meals": "MEALS"},
}


@pytest.fixture
def zone_world(bridge_world: Any) -> Any:
    """Both emulators (bodies checked against the published schema), an employee who
    claims, and the expense items; ``run(**rules)`` syncs with those rules."""
    world = bridge_world(schema_checked=True)
    world.acumatica.seed("Employee", [{"EmployeeID": "EMP0001", "Status": "Active",
                                       "ContactInfo": {"Email": "ann@firm.test"}}])  # fmt: skip
    world.acumatica.seed_expense_items("TRAVEL", "MEALS")
    return world


def zone_run(world: Any, **rules: Any) -> Any:
    world.config = attrs.evolve(
        world.config, rules=attrs.evolve(world.config.rules, **ZONE_CLAIMS, **rules)
    )
    return world.sync()


def by_report(result: Any) -> dict[str, Any]:
    return {o.report_id: o for o in result.outcomes}


def test_sync_posts_claims_in_the_tax_zone_with_the_taxed_lines(zone_world: Any) -> None:
    world = zone_world
    world.acumatica.seed_tax_categories("GSTCAT")
    world.acumatica.seed_tax_zones({"TaxZoneID": "AUGST", "ApplicableTaxes": [{"TaxID": "GST"}]})
    taxed = world.add_approved(1, tax_code="GST10", tax_amount_cents=909)
    plain = world.add_approved(2)
    rules = {"tax_categories": {"GST10": "GSTCAT"}, "tax_zone": "AUGST"}
    result = zone_run(world, **rules)
    outcomes = by_report(result)
    assert outcomes[taxed].action is Action.POSTED, outcomes[taxed].problems
    assert outcomes[plain].action is Action.POSTED, outcomes[plain].problems
    assert not any("tax_zone" in w for w in result.warnings)
    claims = {c["Description"].split(":")[0]: c for c in world.acumatica.records("ExpenseClaim")}
    for rid in (taxed, plain):
        claim = claims[f"EXB-{rid}"]
        assert claim["FinancialDetails"]["TaxZone"] == "AUGST"
        assert [d["TaxZone"] for d in claim["Details"]] == ["AUGST"]
        assert all("TaxAmount" not in d for d in claim["Details"])  # not sent, not invented
    (line,) = claims[f"EXB-{taxed}"]["Details"]
    assert (line["TaxCategory"], str(line["Amount"])) == ("GSTCAT", "100.01")
    assert world.schema.checked > 0  # every body validated against the schema
    world.clock.now += timedelta(hours=1)
    assert zone_run(world, **rules).posted == 0  # found again by their keys


def test_sync_holds_claims_in_a_zone_the_tenant_lacks_before_any_write(zone_world: Any) -> None:
    world = zone_world
    world.acumatica.seed_tax_zones("OTHER")
    rid = world.add_approved(1)
    result = zone_run(world, tax_zone="AUGST")
    outcome = by_report(result)[rid]
    assert outcome.action is Action.HELD
    assert [(p.code, p.field) for p in outcome.problems] == [
        (ErrorCode.RULES_INVALID, "rules.tax_zone")
    ]
    assert "rules.tax_zone: rules.tax_zone 'AUGST' is not a tax zone in Acumatica" in (
        result.warnings
    )
    assert world.acumatica.records("ExpenseClaim") == []


def test_a_zone_acumatica_refuses_holds_the_report_with_its_message(
    zone_world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zone the preflight could not check (the list not served) is refused by the
    tenant when the claim is saved: the report is held with that message, nothing stored."""
    from expense_bridge._ledger import AcumaticaLedger

    monkeypatch.setattr(AcumaticaLedger, "_tax_zones", lambda self: None)
    world = zone_world
    rid = world.add_approved(1)
    result = zone_run(world, tax_zone="GHOST")
    outcome = by_report(result)[rid]
    assert outcome.action is Action.HELD
    assert any("Tax Zone 'GHOST' cannot be found" in p.message for p in outcome.problems)
    assert world.acumatica.records("ExpenseClaim") == []
