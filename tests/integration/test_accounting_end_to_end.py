"""Expense claims, closed periods and receipts through ``sync()`` against both emulators.

Real clients, real template, real state store; a simulated clock: the shared two-emulator
world (tests/bridge_world.py, ``bridge_world`` fixture), every Acumatica body checked
against the published schema. Each new write has a lost-answer case: the claim create,
a claim workflow action and a receipt attachment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import attrs
import pytest

from expense_bridge import Action, ErrorCode
from expense_bridge._periods import ClosedPeriodRule
from expense_bridge._rules import ClaimStage, ReimbursableTarget
from expensify_client.emulator import category
from tests.bridge_world import World

PDF = b"%PDF-1.4\n% a receipt\n" + b"0" * 200

CLAIMS = {
    "reimbursable_target": ReimbursableTarget.EXPENSE_CLAIM,
    "expense_items": {"Travel": "TRAVEL", "Meals": "MEALS"},
}


@pytest.fixture
def world(bridge_world: Callable[..., World]) -> World:
    """Schema-checked, claims set up (EMP0001, TRAVEL/MEALS), a Taxis category (61000)."""
    w = bridge_world(schema_checked=True, category_gl_codes=False,
                     extra_categories=[category("Taxis", "61000")])  # fmt: skip
    w.seed_claimants()
    return w


def count(world: World, method: str, suffix: str) -> int:
    """Requests that reached the Acumatica emulator with this method and path ending."""
    return sum(1 for m, p, _ in world.acumatica.request_log if m == method and p.endswith(suffix))


def by_id(result: Any) -> dict[str, Any]:
    return {o.report_id: o for o in result.outcomes}


# --------------------------------------------------------------------------- claims


def test_a_report_becomes_one_expense_claim_submitted_and_a_second_sync_posts_nothing(
    world: World,
) -> None:
    rid = world.add_approved(1)
    first = world.run(**CLAIMS)
    outcome = by_id(first)[rid]
    assert outcome.action is Action.POSTED, outcome
    (claim,) = world.acumatica.records("ExpenseClaim")
    assert outcome.documents == (f"Claim {claim['RefNbr']}",)
    assert claim["ClaimedBy"] == "EMP0001"
    assert claim["Description"].startswith(f"EXB-{rid}:")
    assert claim["Status"] == "Pending Approval"  # default stage: submit
    (line,) = claim["Details"]
    assert (line["ExpenseItemID"], line["ExpenseAccount"], str(line["Amount"])) == (
        "TRAVEL", "61000", "100.01",
    )  # fmt: skip
    assert world.acumatica.records("Bill") == []
    record = world.store.get("default", rid)
    assert record is not None
    assert [d.kind for d in record.documents] == ["claim"]
    assert count(world, "POST", "/ExpenseClaim/SubmitExpenseClaim") == 1

    world.clock.now += timedelta(hours=1)
    second = world.run(**CLAIMS)
    assert second.posted == 0
    assert len(world.acumatica.records("ExpenseClaim")) == 1
    assert count(world, "POST", "/ExpenseClaim/SubmitExpenseClaim") == 1


def test_claim_stage_release_runs_every_action_once(world: World) -> None:
    world.add_approved(1)
    world.run(**CLAIMS, claim_stage=ClaimStage.RELEASE)
    (claim,) = world.acumatica.records("ExpenseClaim")
    assert claim["Status"] == "Released"
    for action in ("Submit", "Approve", "Release"):
        assert count(world, "POST", f"/ExpenseClaim/{action}ExpenseClaim") == 1


def test_claim_stage_hold_sends_no_action(world: World) -> None:
    world.add_approved(1)
    world.run(**CLAIMS, claim_stage=ClaimStage.HOLD)
    (claim,) = world.acumatica.records("ExpenseClaim")
    assert claim["Status"] == "On Hold"
    assert not [p for m, p, _ in world.acumatica.request_log if m == "POST" and "Claim/" in p]


def test_lost_claim_create_is_adopted_not_created_again(world: World) -> None:
    rid = world.add_approved(1)
    world.acumatica.inject(method="PUT", path="/ExpenseClaim$", drop_response=True)
    first = world.run(**CLAIMS)
    assert by_id(first)[rid].action is Action.PENDING
    assert len(world.acumatica.records("ExpenseClaim")) == 1  # the write was applied

    world.clock.now += timedelta(minutes=5)
    second = world.run(**CLAIMS)
    assert by_id(second)[rid].action is Action.ADOPTED
    (claim,) = world.acumatica.records("ExpenseClaim")
    assert claim["Status"] == "Pending Approval"  # the adopted claim is still submitted
    assert count(world, "PUT", "/ExpenseClaim") == 1
    assert count(world, "POST", "/ExpenseClaim/SubmitExpenseClaim") == 1


def test_lost_claim_action_is_resumed_without_sending_it_twice(world: World) -> None:
    rid = world.add_approved(1)
    world.acumatica.inject(method="POST", path="ApproveExpenseClaim", drop_response=True)
    first = world.run(**CLAIMS, claim_stage=ClaimStage.RELEASE)
    assert by_id(first)[rid].action is Action.PENDING
    assert len(world.acumatica.records("ExpenseClaim")) == 1  # the approval was accepted

    world.clock.now += timedelta(minutes=5)
    second = world.run(**CLAIMS, claim_stage=ClaimStage.RELEASE)
    assert by_id(second)[rid].action is Action.ADOPTED  # its claim was recorded before
    (claim,) = world.acumatica.records("ExpenseClaim")
    assert claim["Status"] == "Released"
    for action in ("Submit", "Approve", "Release"):
        assert count(world, "POST", f"/ExpenseClaim/{action}ExpenseClaim") == 1
    assert count(world, "PUT", "/ExpenseClaim") == 1


def test_a_claim_with_our_key_but_another_claimant_is_not_adopted(world: World) -> None:
    rid = world.add_approved(1)
    world.acumatica.seed("Employee", [{"EmployeeID": "EMP0002", "Status": "Active"}])
    world.acumatica.seed("ExpenseClaim", [{
        "RefNbr": "CL0001", "ClaimedBy": "EMP0002", "Status": "On Hold",
        "Description": f"EXB-{rid}: Trip 1", "CurrencyID": "USD", "ClaimTotal": 100.01,
        "Details": [{"ExpenseItemID": "TRAVEL", "ExpenseAccount": "61000", "Amount": 100.01}],
    }])  # fmt: skip
    result = world.run(**CLAIMS)
    (problem,) = by_id(result)[rid].problems
    assert problem.code is ErrorCode.DOCUMENT_MISMATCH
    assert len(world.acumatica.records("ExpenseClaim")) == 1


def test_unknown_expense_item_holds_the_report_and_warns(world: World) -> None:
    rid = world.add_approved(1, category="Taxis")
    result = world.run(
        reimbursable_target=ReimbursableTarget.EXPENSE_CLAIM,
        expense_items={"Travel": "TRAVEL", "Taxis": "TAXI"},
    )
    (problem,) = by_id(result)[rid].problems
    assert problem.code is ErrorCode.RULES_INVALID
    assert "TAXI" in problem.message
    assert problem.field == "expenses[0].category"
    assert any("'TAXI'" in w for w in result.warnings)
    assert world.acumatica.records("ExpenseClaim") == []


def test_card_spend_keeps_its_target_beside_a_claim(world: World) -> None:
    rid = world.add_approved(1)
    card = world.add_approved(2, reimbursable=False)
    assert card != rid
    result = world.run(**CLAIMS, card_liability_account="21000")
    assert result.posted == 2
    assert len(world.acumatica.records("ExpenseClaim")) == 1
    assert len(world.acumatica.records("JournalTransaction")) == 1


# -------------------------------------------------------------------- closed periods


def test_closed_period_hold_names_the_period(world: World) -> None:
    world.seed_periods("112026")
    rid = world.add_approved(1)
    result = world.run()
    (problem,) = by_id(result)[rid].problems
    assert problem.code is ErrorCode.PERIOD_CLOSED
    assert "112026" in problem.message
    assert "AP" in problem.message
    assert world.acumatica.records("Bill") == []


def test_closed_period_next_open_sets_post_period_and_keeps_the_date(world: World) -> None:
    world.seed_periods("112026")
    rid = world.add_approved(1)
    result = world.run(closed_period=ClosedPeriodRule.NEXT_OPEN)
    assert by_id(result)[rid].action is Action.POSTED
    (bill,) = world.acumatica.records("Bill")
    assert bill["PostPeriod"] == "122026"
    assert str(bill["Date"]).startswith("2026-11-")


def test_journals_follow_the_gl_status_not_the_ap_flag(world: World) -> None:
    world.seed_periods("112026")  # closed for AP only
    rid = world.add_approved(1)
    from expense_bridge._rules import ReimbursableTarget as T

    result = world.run(reimbursable_target=T.JOURNAL)
    assert by_id(result)[rid].action is Action.POSTED
    (batch,) = world.acumatica.records("JournalTransaction")
    assert batch["PostPeriod"] == "112026"  # the date's own period (not moved)


def test_a_date_outside_the_calendar_is_unknown(world: World) -> None:
    world.acumatica.backend.records["FinancialPeriod"].clear()  # the set-up calendar
    world.acumatica.seed("FinancialPeriod", [{"FinancialYear": "2025", "Details": [
        {"FinancialPeriodID": "012025", "StartDate": "2025-01-01T00:00:00",
         "EndDate": "2025-02-01T00:00:00", "Status": "Open"}]}])  # fmt: skip
    rid = world.add_approved(1)
    result = world.run()
    (problem,) = by_id(result)[rid].problems
    assert problem.code is ErrorCode.PERIOD_UNKNOWN


def test_a_claim_in_a_closed_period_moves_under_next_open(world: World) -> None:
    world.seed_periods("112026")
    rid = world.add_approved(1)
    result = world.run(**CLAIMS, closed_period=ClosedPeriodRule.NEXT_OPEN)
    assert by_id(result)[rid].action is Action.POSTED
    (claim,) = world.acumatica.records("ExpenseClaim")
    assert claim["FinancialDetails"]["PosttoPeriod"] == "122026"
    assert str(claim["Date"]).startswith("2026-11-")


# -------------------------------------------------------------------------- receipts


def files_of(world: World, entity: str) -> list[list[str]]:
    backend = world.acumatica.backend
    return [
        sorted(f.filename for f in backend.files.get(str(r["id"]), {}).values())
        for r in world.acumatica.records(entity)
    ]


@pytest.fixture
def receipts_url(world: World) -> Iterator[str]:
    with world.expensify.serve() as server:
        yield str(server.base_url).rstrip("/")


def test_receipts_are_attached_once_to_the_bill(world: World, receipts_url: str) -> None:
    path = world.expensify.add_receipt("r1.pdf", PDF, "application/pdf")
    rid = world.add_approved(1, receipt_url=receipts_url + path)
    result = world.run(attach_receipts=True)
    outcome = by_id(result)[rid]
    assert outcome.action is Action.POSTED
    assert outcome.warnings == ()
    (names,) = files_of(world, "Bill")
    assert len(names) == 1
    assert names[0].startswith("receipt-")
    assert names[0].endswith(".pdf")
    trail = [e for e in world.store.audit_trail(rid) if e.step == "receipt"]
    assert [(e.outcome, e.detail) for e in trail] == [("attached", names[0])]

    world.clock.now += timedelta(hours=1)
    world.run(attach_receipts=True)
    assert files_of(world, "Bill") == [names]
    assert count(world, "PUT", names[0]) == 1


def test_receipts_are_attached_to_a_claim(world: World, receipts_url: str) -> None:
    path = world.expensify.add_receipt("r2.jpg", b"\xff\xd8\xff\xe0" + b"1" * 100, "image/jpeg")
    world.add_approved(1, receipt_url=receipts_url + path)
    world.run(**CLAIMS, attach_receipts=True)
    (names,) = files_of(world, "ExpenseClaim")
    assert len(names) == 1
    assert names[0].endswith(".jpg")


def test_a_lost_attach_answer_leaves_one_file_and_no_repost(
    world: World, receipts_url: str
) -> None:
    path = world.expensify.add_receipt("r3.pdf", PDF, "application/pdf")
    rid = world.add_approved(1, receipt_url=receipts_url + path)
    world.acumatica.inject(method="PUT", path="/files/", drop_response=True)
    result = world.run(attach_receipts=True)
    outcome = by_id(result)[rid]
    assert outcome.action is Action.POSTED
    assert outcome.warnings == ()
    (names,) = files_of(world, "Bill")
    trail = [e.detail for e in world.store.audit_trail(rid) if e.step == "receipt"]
    assert len(names) == 1
    assert trail == names
    assert len(world.acumatica.records("Bill")) == 1
    assert count(world, "PUT", ".pdf") == 2  # the repeat replaced the file


def test_a_missing_receipt_is_a_warning_not_a_repost(world: World, receipts_url: str) -> None:
    rid = world.add_approved(1, receipt_url=receipts_url + "/receipts/gone.pdf")
    result = world.run(attach_receipts=True)
    outcome = by_id(result)[rid]
    assert outcome.action is Action.POSTED
    (warning,) = outcome.warnings
    assert "HTTP 404" in warning
    assert "gone" not in warning
    assert [e.outcome for e in world.store.audit_trail(rid) if e.step == "receipt"] == ["warning"]
    assert files_of(world, "Bill") == [[]]

    world.clock.now += timedelta(hours=1)
    second = world.run(attach_receipts=True)
    assert second.posted == 0
    assert len(world.acumatica.records("Bill")) == 1


def test_replay_posts_a_held_claim_once_its_item_is_mapped(world: World) -> None:
    from expense_bridge import replay

    rid = world.add_approved(1, category="Taxis")
    held = world.run(**CLAIMS)
    assert by_id(held)[rid].action is Action.HELD
    world.acumatica.seed("NonStockItem", [{"InventoryID": "TAXI", "ItemType": "Expense",
                                           "ItemStatus": "Active"}])  # fmt: skip
    rules = attrs.evolve(
        world.config.rules, reimbursable_target=ReimbursableTarget.EXPENSE_CLAIM,
        expense_items={"Travel": "TRAVEL", "Taxis": "TAXI"}, claim_stage=ClaimStage.APPROVE,
    )  # fmt: skip
    config = attrs.evolve(world.config, rules=rules)
    result = replay(config, rid, acumatica=world.acu_client, expensify=world.exp_client,
                    store=world.store, now=world.clock)  # fmt: skip
    assert result.outcome.action is Action.POSTED
    (claim,) = world.acumatica.records("ExpenseClaim")
    assert claim["Status"] == "Approved"
    assert [d["ExpenseItemID"] for d in claim["Details"]] == ["TAXI"]


def test_claims_and_receipts_with_concurrent_posting(world: World, receipts_url: str) -> None:
    """Four reports posted by three threads: one claim each, each action and receipt once."""
    world.config = attrs.evolve(
        world.config, acumatica=attrs.evolve(world.config.acumatica, max_concurrent=3)
    )
    for n in range(4):
        path = world.expensify.add_receipt(f"c{n}.pdf", PDF, "application/pdf")
        world.add_approved(n, receipt_url=receipts_url + path)
    result = world.run(**CLAIMS, attach_receipts=True, posting_concurrency=3)
    assert result.posted == 4
    claims = world.acumatica.records("ExpenseClaim")
    assert sorted(c["Status"] for c in claims) == ["Pending Approval"] * 4
    assert [len(names) for names in files_of(world, "ExpenseClaim")] == [1, 1, 1, 1]
    assert count(world, "POST", "/ExpenseClaim/SubmitExpenseClaim") == 4
    assert count(world, "PUT", "/ExpenseClaim") == 4


def test_a_calendar_the_user_may_not_read_skips_the_check(world: World) -> None:
    world.seed_periods("112026")  # would hold the bill
    world.acumatica.inject(method="GET", path="/FinancialPeriod", status=403)
    rid = world.add_approved(1)
    result = world.run()
    assert result.errors == ()
    # The bridge did not judge the period: the bill was sent, and Acumatica decides on save.
    assert count(world, "PUT", "/Bill") == 1
    codes = [p.code for p in by_id(result)[rid].problems]
    assert ErrorCode.PERIOD_CLOSED not in codes
