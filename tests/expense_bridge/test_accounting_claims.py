"""Expense Claim target building blocks (issue 11): mapping and idempotent posting.

The mapping is checked with hypothesis over the same consistent worlds as the bill
mapping; posting runs against the Acumatica emulator, with a lost create answer, a lost
action answer and 202-polled actions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from acumatica_client import (
    AcumaticaClient,
    APIConnectionError,
    ClientOptions,
    Endpoint,
    ExpenseClaim,
    OAuth2,
    UnprocessableEntityError,
)
from acumatica_client.emulator import AcumaticaEmulator
from expense_bridge import ErrorCode, MappingError, PostingRules
from expense_bridge._claims import (
    ClaimLedger,
    ClaimMismatchError,
    ClaimPlan,
    ClaimStage,
    plan_claim,
)
from expense_bridge._keys import DocumentPart, key_from_description
from expense_bridge.mapping import report_to_bill

from . import strategies as S
from .fakes import CATALOG, POLICY, expense, report

ITEMS = {"Travel": "TRAVEL", "Meals": "MEALS"}
RULES = PostingRules(employee_liability_account="21000", card_liability_account="22000")
DAY = date(2026, 11, 20)


def plan(rep: Any, **kw: Any) -> ClaimPlan:
    args: dict[str, Any] = {"policy": POLICY, "catalog": CATALOG, "rules": RULES,
                            "posting_date": DAY, "expense_items": ITEMS}  # fmt: skip
    args.update(kw)
    return plan_claim(rep, **args)


# --------------------------------------------------------------------------- mapping


def test_one_claim_per_report_with_a_line_per_reimbursable_expense() -> None:
    rep = report("R1", card=True)  # two reimbursable expenses and one card expense
    p = plan(rep)
    claim = p.claim
    assert p.key == "EXB-R1"
    assert claim.claimed_by == "EMP0001" == p.claimant
    assert key_from_description(str(claim.description)) == "EXB-R1"
    assert claim.currency_id == "USD"
    assert isinstance(claim.details, tuple)
    assert [(d.expense_item_id, d.expense_account, d.amount) for d in claim.details] == [
        ("TRAVEL", "61000", Decimal("123.45")),
        ("MEALS", "62000", Decimal("20.50")),
    ]  # the card expense keeps its own target
    assert p.total == Decimal("143.95")
    assert all(d.date == date(2026, 11, 10) for d in claim.details)
    assert all(d.description for d in claim.details)


def test_unmapped_categories_are_listed_with_every_other_problem() -> None:
    rep = report("R2", expense("R2-1", 500, "Meals"), expense("R2-2", 700, "Travel"),
                 email="ghost@firm.test")  # fmt: skip
    with pytest.raises(MappingError) as caught:
        plan(rep, expense_items={"Travel": "TRAVEL"})
    problems = {(p.code, p.field, p.transaction_id) for p in caught.value.problems}
    assert (ErrorCode.RULES_INVALID, "expenses[0].category", "R2-1") in problems
    assert ErrorCode.SUBMITTER_NO_VENDOR in {p.code for p in caught.value.problems}
    assert all(p.fix for p in caught.value.problems)


def test_a_net_refund_cannot_be_a_claim() -> None:
    rep = report("R3", expense("R3-1", -5000), expense("R3-2", 1000))
    with pytest.raises(MappingError) as caught:
        plan(rep)
    assert [p.field for p in caught.value.problems] == ["expenses"]
    assert "cannot be negative" in caught.value.problems[0].message


@given(world=S.worlds(refunds=False, reimbursable=True, currency="USD"))
def test_claim_lines_match_the_bill_mapping(world: S.World) -> None:
    items = {c.name: f"ITEM{i}" for i, c in enumerate(world.policy.categories)}
    try:
        bill = report_to_bill(world.report, part=DocumentPart.REIMBURSABLE, **world.kwargs())  # type: ignore[arg-type]
    except MappingError as exc:  # the claim reports the bill mapping's problems too
        expected = set(exc.problems)
        with pytest.raises(MappingError) as caught:
            plan_claim(world.report, expense_items=items, **world.kwargs())  # type: ignore[arg-type]
        assert expected <= set(caught.value.problems)
        return
    p = plan_claim(world.report, expense_items=items, **world.kwargs())  # type: ignore[arg-type]
    assert isinstance(p.claim.details, tuple)
    assert isinstance(bill.document.details, tuple)
    assert len(p.claim.details) == len(world.report.expenses) == len(bill.document.details)
    assert sum((d.amount for d in p.claim.details), Decimal(0)) == p.total == bill.total  # type: ignore[misc]
    for line, detail, exp in zip(p.claim.details, bill.document.details, world.report.expenses,
                                 strict=True):  # fmt: skip
        assert line.expense_account == detail.account
        assert line.expense_subaccount == detail.subaccount
        assert line.project_id == detail.project
        assert line.project_task_id == detail.project_task
        assert line.expense_item_id == items[str(exp.category)]
        assert line.billable is exp.billable
    assert key_from_description(str(p.claim.description)) == p.key
    assert len(str(p.claim.description)) <= 256


def test_stage_from_rules() -> None:
    assert ClaimStage.from_rules(PostingRules()) is ClaimStage.SUBMIT
    assert ClaimStage.from_rules(PostingRules(hold=True)) is ClaimStage.HOLD
    assert ClaimStage.from_rules(PostingRules(release=True)) is ClaimStage.RELEASE


# --------------------------------------------------------------------------- over the emulator


def tenant(**kw: Any) -> AcumaticaEmulator:
    emu = AcumaticaEmulator(version="24.200.001", hold_on_entry=False, **kw)
    emu.seed("Account", [
        {"AccountCD": "61000", "Type": "Expense", "Active": True},
        {"AccountCD": "62000", "Type": "Expense", "Active": True},
    ])  # fmt: skip
    emu.seed("Employee", [{"EmployeeID": "EMP0001", "Status": "Active",
                           "ContactInfo": {"Email": "ann@firm.test"}}])  # fmt: skip
    emu.seed("NonStockItem", [  # expense items (the emulator checks ExpenseItemID)
        {"InventoryID": item, "ItemType": "Expense", "ItemStatus": "Active"}
        for item in ("TRAVEL", "MEALS")
    ])  # fmt: skip
    return emu


def client_for(emu: AcumaticaEmulator) -> AcumaticaClient:
    auth = OAuth2(
        base_url="https://erp.test", client_id="expense-bridge@Company",
        client_secret="client-secret", username="admin", password="admin-password",
    )  # fmt: skip
    return AcumaticaClient(
        base_url="https://erp.test", endpoint=Endpoint("Default", "24.200.001"), auth=auth,
        transport=emu.transport(), options=ClientOptions(sleep=lambda s: None),
    )  # fmt: skip


@pytest.fixture
def emu() -> AcumaticaEmulator:
    return tenant(action_polls=2)  # every action answers 202 twice before 204


@pytest.fixture
def ledger(emu: AcumaticaEmulator) -> Iterator[ClaimLedger]:
    with client_for(emu) as client:
        yield ClaimLedger(client, page_size=2)


def claims(emu: AcumaticaEmulator) -> list[dict[str, Any]]:
    return emu.records("ExpenseClaim")


def test_post_creates_once_and_adopts_after(emu: AcumaticaEmulator, ledger: ClaimLedger) -> None:
    p = plan(report("R1"))
    saved, created = ledger.post(p)
    assert created
    (stored,) = claims(emu)
    assert stored["ClaimedBy"] == "EMP0001"
    assert stored["Status"] == "On Hold"
    assert [d["ExpenseItemID"] for d in stored["Details"]] == ["TRAVEL", "MEALS"]
    assert Decimal(str(stored["ClaimTotal"])) == p.total
    again, created_again = ledger.post(p)
    assert not created_again
    assert again.ref_nbr == saved.ref_nbr
    assert len(claims(emu)) == 1


def test_a_lost_create_answer_is_adopted_not_reposted(
    emu: AcumaticaEmulator, ledger: ClaimLedger
) -> None:
    p = plan(report("R1"))
    emu.inject(method="PUT", path="/ExpenseClaim", drop_response=True)
    with pytest.raises(APIConnectionError):
        ledger.post(p)
    assert len(claims(emu)) == 1  # the write landed
    adopted, created = ledger.post(p)
    assert not created
    assert adopted.ref_nbr == claims(emu)[0]["RefNbr"]
    assert len(claims(emu)) == 1


def test_a_claim_with_our_key_but_another_claimant_is_refused(
    emu: AcumaticaEmulator, ledger: ClaimLedger
) -> None:
    emu.seed("Employee", [{"EmployeeID": "EMP0002", "Status": "Active"}])
    p = plan(report("R1"))
    ledger.client.put(attrs.evolve(p.claim, claimed_by="EMP0002"))
    with pytest.raises(ClaimMismatchError, match="EMP0002"):
        ledger.post(p)
    assert len(claims(emu)) == 1


def test_find_pages_keys_and_confirms_each_match(
    emu: AcumaticaEmulator, ledger: ClaimLedger
) -> None:
    plans = [plan(report(f"R{i}")) for i in range(5)]
    for p in plans:
        ledger.post(p, existing={})
    decoy = attrs.evolve(plans[0].claim, description="EXB-R0 is mentioned, not a key")
    ledger.client.put(decoy)
    before = ledger.client.calls
    found = ledger.find([p.key for p in plans] + ["EXB-R9"])
    assert sorted(found) == sorted(p.key for p in plans)
    assert ledger.client.calls - before == 3  # 6 keys, 2 per page
    assert {str(c.ref_nbr) for c in found.values()} == {
        str(r["RefNbr"]) for r in claims(emu) if r["Description"] != decoy.description
    }


def test_advance_runs_each_missing_action_once_through_202_polling(
    emu: AcumaticaEmulator, ledger: ClaimLedger
) -> None:
    saved, _ = ledger.post(plan(report("R1")))
    assert ledger.advance(saved, ClaimStage.HOLD) == "On Hold"
    assert ledger.advance(saved, ClaimStage.SUBMIT) == "Pending Approval"
    assert ledger.advance(saved, ClaimStage.RELEASE) == "Released"
    assert claims(emu)[0]["Status"] == "Released"
    before = ledger.client.calls
    assert ledger.advance(saved, ClaimStage.RELEASE) == "Released"
    assert ledger.client.calls - before == 1  # one status read, no action


def test_a_lost_action_answer_is_finished_by_advancing_again() -> None:
    emu = tenant(action_polls=1)  # 202, then done after one more request of any kind
    with client_for(emu) as client:
        ledger = ClaimLedger(client)
        saved, _ = ledger.post(plan(report("R1")))
        emu.inject(method="POST", path="/ExpenseClaim/ApproveExpenseClaim", drop_response=True)
        with pytest.raises(APIConnectionError):
            ledger.advance(saved, ClaimStage.RELEASE)
        # the approval was accepted and is running; nobody saw its 202
        assert claims(emu)[0]["Status"] == "Pending Approval"
        # the status read may still show Pending Approval; the repeated approval is then
        # refused (422, the claim is Approved by now) and the walk goes on from Approved
        assert ledger.advance(saved, ClaimStage.RELEASE) == "Released"
    assert claims(emu)[0]["Status"] == "Released"


def test_a_refused_action_on_an_unmoved_claim_is_raised() -> None:
    emu = tenant()
    with client_for(emu) as client:
        ledger = ClaimLedger(client)
        saved, _ = ledger.post(plan(report("R1")))
        emu.inject(method="POST", path="/ExpenseClaim/SubmitExpenseClaim", status=422)
        with pytest.raises(UnprocessableEntityError):
            ledger.advance(saved, ClaimStage.SUBMIT)
    assert claims(emu)[0]["Status"] == "On Hold"


def test_a_rejected_claim_is_left_alone() -> None:
    emu = tenant()
    with client_for(emu) as client:
        ledger = ClaimLedger(client)
        saved, _ = ledger.post(plan(report("R1")))
        ledger.advance(saved, ClaimStage.SUBMIT)
        reject = ExpenseClaim(ref_nbr=saved.ref_nbr)
        client.invoke_action(ExpenseClaim, "RejectExpenseClaim", reject)
        assert ledger.advance(saved, ClaimStage.RELEASE) == "Rejected"
    assert claims(emu)[0]["Status"] == "Rejected"


@given(stage=st.sampled_from(list(ClaimStage)))
def test_reached_status_is_the_stage(stage: ClaimStage) -> None:
    emu = tenant()
    with client_for(emu) as client:
        ledger = ClaimLedger(client)
        saved, _ = ledger.post(plan(report("R1")))
        reached = ledger.advance(saved, stage)
    expected = {ClaimStage.HOLD: "On Hold", ClaimStage.SUBMIT: "Pending Approval",
                ClaimStage.APPROVE: "Approved", ClaimStage.RELEASE: "Released"}  # fmt: skip
    assert reached == expected[stage] == claims(emu)[0]["Status"]
    assert isinstance(saved, ExpenseClaim)


# --------------------------------------------------------------------------- configuration

_BASE: dict[str, Any] = {
    "policies": ["P"],
    "acumatica": {"base_url": "https://x.test", "endpoint_version": "24.200.001",
                  "username": "u", "client_id": "a@b"},
    "expensify": {"partner_user_id": "p"},
}  # fmt: skip


def _fields(rules: dict[str, Any]) -> set[str]:
    from expense_bridge import BridgeConfig, ConfigError

    with pytest.raises(ConfigError) as info:
        BridgeConfig.from_mapping({**_BASE, "rules": rules})
    return {p.field for p in info.value.problems}


def test_claim_configuration_names_and_round_trip() -> None:
    from expense_bridge import BridgeConfig
    from expense_bridge._periods import ClosedPeriodRule
    from expense_bridge._rules import ReimbursableTarget

    rules = {
        "reimbursable_target": "expense_claim", "expense_items": {"Travel": "TRAVEL"},
        "claim_stage": "release", "attach_receipts": True, "closed_period": "next_open",
    }  # fmt: skip
    config = BridgeConfig.from_mapping({**_BASE, "rules": rules})
    assert config.rules.reimbursable_target is ReimbursableTarget.EXPENSE_CLAIM
    assert dict(config.rules.expense_items) == {"Travel": "TRAVEL"}
    assert config.rules.claim_stage is ClaimStage.RELEASE
    assert config.rules.attach_receipts is True
    assert config.rules.closed_period is ClosedPeriodRule.NEXT_OPEN
    assert BridgeConfig.from_mapping(config.to_mapping()).rules == config.rules
    defaults = BridgeConfig.from_mapping(_BASE).rules
    assert (defaults.claim_stage, defaults.attach_receipts, defaults.closed_period) == (
        None, False, ClosedPeriodRule.HOLD,
    )  # fmt: skip


def test_claim_configuration_errors_name_the_option() -> None:
    from expense_bridge import BridgeConfig

    assert _fields({"reimbursable_target": "expense_claim"}) == {"rules.expense_items"}
    claims = {"reimbursable_target": "expense_claim", "expense_items": {"Travel": "T"}}
    taxed_rules = {**claims, "tax_categories": {"VAT": "V"}}
    taxed = BridgeConfig.from_mapping({**_BASE, "rules": taxed_rules})
    assert taxed.rules.tax_categories == {"VAT": "V"}  # claim lines carry the category
    assert _fields({**claims, "tax_account": "23000"}) == {"rules.tax_account"}
    assert _fields({**claims, "claim_stage": "paid"}) == {"rules.claim_stage"}
