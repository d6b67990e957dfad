"""Expense claims in depth through ``sync()`` against both emulators (issue 11).

Tax categories on claim lines, report fields on the claim header, payment sync-back of
claims (their released AP bills) and the claim workflow under lost answers. The world
(real clients, real template, real store, simulated clock) is the one of
``test_accounting_end_to_end``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from expense_bridge import Action, ErrorCode
from expense_bridge._payments import FINAL, STEP
from expense_bridge._rules import ClaimStage
from expensify_client.emulator import ExpenseSpec

from .test_accounting_end_to_end import CLAIMS, World, by_id, count
from .test_accounting_end_to_end import world as world  # the fixture

# ------------------------------------------------------------------------------- tax


def test_claim_lines_carry_the_mapped_tax_category(world: World) -> None:
    world.acumatica.seed_tax_categories("GSTCAT")
    taxed = world.add_approved(1, tax_code="GST10", tax_amount_cents=909)
    plain = world.add_approved(2)
    result = world.run(**CLAIMS, tax_categories={"GST10": "GSTCAT"})
    assert by_id(result)[taxed].action is Action.POSTED, by_id(result)[taxed].problems
    assert by_id(result)[plain].action is Action.POSTED
    claims = {c["Description"].split(":")[0]: c for c in world.acumatica.records("ExpenseClaim")}
    (line,) = claims[f"EXB-{taxed}"]["Details"]
    assert line["TaxCategory"] == "GSTCAT"
    assert str(line["Amount"]) == "100.01"  # tax-inclusive, as on a bill line
    (other,) = claims[f"EXB-{plain}"]["Details"]
    assert other.get("TaxCategory") != "GSTCAT"


def test_an_unmapped_tax_code_holds_the_claim_before_any_write(world: World) -> None:
    rid = world.add_approved(1, tax_code="VAT20", tax_amount_cents=1667)
    result = world.run(**CLAIMS, tax_categories={"GST10": "GSTCAT"})
    (problem,) = by_id(result)[rid].problems
    assert problem.code is ErrorCode.TAX_UNMAPPED
    assert world.acumatica.records("ExpenseClaim") == []


def test_a_tax_category_the_tenant_lacks_is_refused_by_acumatica(world: World) -> None:
    rid = world.add_approved(1, tax_code="GST10", tax_amount_cents=909)
    result = world.run(**CLAIMS, tax_categories={"GST10": "NOSUCHCAT"})
    outcome = by_id(result)[rid]
    assert outcome.action is Action.HELD
    assert any("TaxCategory" in (p.message + p.field) for p in outcome.problems), outcome
    assert world.acumatica.records("ExpenseClaim") == []


# ------------------------------------------------------------------ report fields


def add_with_fields(world: World, n: int, fields: dict[str, str]) -> str:
    rid = world.expensify.add_report(
        "POL1", submitter="ann@firm.test", name=f"Trip {n}", currency="USD",
        expenses=[ExpenseSpec(amount_cents=10_000 + n, currency="USD", created=date(2026, 11, 10),
                              merchant=f"Merchant {n}", category="Travel")],
        created=world.clock.now - timedelta(days=3), fields=fields,
    )  # fmt: skip
    world.expensify.submit(rid, world.clock.now - timedelta(days=2))
    world.expensify.approve(rid, world.clock.now - timedelta(hours=1))
    return rid


FIELDS = {"report_fields": {"Office": "BranchID", "Purpose": "Description"}}


def test_report_fields_reach_the_claim_header(world: World) -> None:
    world.acumatica.seed_branches(["MAIN", "EAST"])
    rid = add_with_fields(world, 1, {"Office": "EAST", "Purpose": "Kick-off at Acme"})
    plain = add_with_fields(world, 2, {})
    result = world.run(**CLAIMS, **FIELDS)
    assert by_id(result)[rid].action is Action.POSTED, by_id(result)[rid]
    claim = claim_of(world, rid)
    assert claim["Description"] == f"EXB-{rid}: Kick-off at Acme"  # the key prefix kept
    assert claim["FinancialDetails"]["Branch"] == "EAST"
    assert [d["Branch"] for d in claim["Details"]] == ["EAST"]  # the lines' default too
    other = claim_of(world, plain)
    assert other["Description"] == f"EXB-{plain}: Trip 2"
    assert (other.get("FinancialDetails") or {}).get("Branch") != "EAST"

    later(world)
    assert world.run(**CLAIMS, **FIELDS).posted == 0  # found again by its key


def test_an_unknown_branch_in_a_report_field_holds_the_claim(world: World) -> None:
    world.acumatica.seed_branches(["MAIN"])
    rid = add_with_fields(world, 1, {"Office": "NOSUCH"})
    result = world.run(**CLAIMS, **FIELDS)
    assert [(p.code, p.field) for p in by_id(result)[rid].problems] == [
        (ErrorCode.REPORT_FIELD_UNKNOWN, "report_fields.Office")
    ]
    assert world.acumatica.records("ExpenseClaim") == []


# -------------------------------------------------------------------- payments

PAID = {**CLAIMS, "claim_stage": ClaimStage.RELEASE, "mark_reimbursed_when_paid": True}


def later(world: World, hours: int = 1) -> None:
    world.clock.now += timedelta(hours=hours)


def state(world: World, rid: str) -> str:
    return str(world.expensify.report(rid)["state"])


def trail(world: World, rid: str) -> list[str]:
    return [e.outcome for e in world.store.audit_trail(rid, "default") if e.step == STEP]


def claim_of(world: World, rid: str) -> dict[str, Any]:
    return next(
        c for c in world.acumatica.records("ExpenseClaim")
        if c["Description"].startswith(f"EXB-{rid}:")
    )  # fmt: skip


def test_a_paid_claim_marks_its_report_reimbursed_once(world: World) -> None:
    paid, unpaid = world.add_approved(1), world.add_approved(2)
    first = world.run(**PAID)
    assert first.posted == 2
    claim = claim_of(world, paid)
    assert claim["Status"] == "Released"
    (ap_doc,) = claim["FinancialDetails"]["APDocuments"]
    assert ap_doc["Status"] == "Open"

    later(world)
    quiet = world.run(**PAID)  # released, AP bill open: nothing to mark
    assert quiet.ok
    assert (state(world, paid), trail(world, paid)) == ("APPROVED", [])

    world.acumatica.pay("ExpenseClaim", claim["RefNbr"])
    later(world)
    result = world.run(**PAID)
    assert result.ok, result.errors
    assert state(world, paid) == "REIMBURSED"
    assert state(world, unpaid) == "APPROVED"
    assert trail(world, paid) == ["marking", "marked reimbursed"]
    (marking, _) = [e for e in world.store.audit_trail(paid, "default") if e.step == STEP]
    assert marking.document == f"Claim {claim['RefNbr']}"
    assert f"Bill {ap_doc['RefNbr']}" in str(marking.detail)
    assert any(f"marked reimbursed in Expensify: {paid}" in w for w in result.warnings)
    entry = world.expensify.report(paid)["entryID"]

    later(world)
    again = world.run(**PAID)
    assert again.ok
    assert world.expensify.report(paid)["entryID"] == entry  # reimbursed exactly once
    assert trail(world, paid) == ["marking", "marked reimbursed"]
    assert count(world, "POST", "/ExpenseClaim/ReleaseExpenseClaim") == 2


def test_a_claim_not_released_is_never_marked(world: World) -> None:
    rid = world.add_approved(1)
    world.run(**{**PAID, "claim_stage": ClaimStage.SUBMIT})
    assert claim_of(world, rid)["Status"] == "Pending Approval"
    later(world)
    result = world.run(**{**PAID, "claim_stage": ClaimStage.SUBMIT})
    assert result.ok
    assert (state(world, rid), trail(world, rid)) == ("APPROVED", [])


def test_a_claim_whose_ap_bill_still_has_a_balance_is_not_marked(world: World) -> None:
    rid = world.add_approved(1)
    world.run(**PAID)
    (ap_doc,) = claim_of(world, rid)["FinancialDetails"]["APDocuments"]
    # the claim's row reads Closed but the bill itself still owes (a partial payment)
    ap_doc["Status"] = "Closed"
    world.acumatica.seed(
        "Bill", [{"Type": "Bill", "ReferenceNbr": ap_doc["RefNbr"], "Status": "Closed",
                  "Balance": 10}],
    )  # fmt: skip
    later(world)
    result = world.run(**PAID)
    assert result.ok
    assert (state(world, rid), trail(world, rid)) == ("APPROVED", [])


def test_a_lost_reimburse_answer_for_a_claim_is_not_reimbursed_twice(world: World) -> None:
    rid = world.add_approved(1)
    world.run(**PAID)
    world.acumatica.pay("ExpenseClaim", claim_of(world, rid)["RefNbr"])
    world.expensify.inject(job_type="update/reportStatus", drop_response=True)
    later(world)
    lost = world.run(**PAID)
    assert not lost.ok
    assert state(world, rid) == "REIMBURSED"  # the job landed; its answer did not
    assert trail(world, rid) == ["marking", "failed"]
    entry = world.expensify.report(rid)["entryID"]

    later(world)
    retried = world.run(**PAID)
    assert retried.ok
    assert trail(world, rid) == ["marking", "failed", "marking", "already reimbursed"]
    assert world.expensify.report(rid)["entryID"] == entry
    later(world)
    world.run(**PAID)
    assert trail(world, rid)[-1] in FINAL
    assert len(trail(world, rid)) == 4


def test_a_failed_claim_look_up_is_a_run_error_and_retried(world: World) -> None:
    rid = world.add_approved(1)
    world.run(**PAID)
    world.acumatica.pay("ExpenseClaim", claim_of(world, rid)["RefNbr"])
    world.acumatica.inject(method="GET", path="/ExpenseClaim", status=500, times=50)
    later(world)
    failed = world.run(**PAID)
    assert any("payment status look-up failed" in e for e in failed.errors)
    assert (state(world, rid), trail(world, rid)) == ("APPROVED", [])
    world.acumatica.faults.clear()
    later(world)
    assert world.run(**PAID).ok
    assert state(world, rid) == "REIMBURSED"


# ------------------------------------------------------- claim actions: double send


def slow_actions(world: World, *, polls: int, seconds: float) -> None:
    """Workflow actions the emulator runs for ``polls`` requests or ``seconds``."""
    world.acumatica.backend.action_polls = polls
    world.acumatica.handlers.action_seconds = seconds


def test_a_running_action_whose_answer_was_lost_is_waited_for_not_sent_again(
    world: World,
) -> None:
    from acumatica_client import APIConnectionError, ExpenseClaim
    from expense_bridge._claims import ClaimLedger

    world.add_approved(1)
    world.run(**CLAIMS, claim_stage=ClaimStage.HOLD)
    ref = world.acumatica.records("ExpenseClaim")[0]["RefNbr"]
    slow_actions(world, polls=3, seconds=3600)
    world.acumatica.inject(method="POST", path="SubmitExpenseClaim", drop_response=True)
    ledger = ClaimLedger(world.acu_client)
    with pytest.raises(APIConnectionError):
        ledger.advance(ExpenseClaim(ref_nbr=ref), ClaimStage.SUBMIT)
    sent: list[tuple[str, str]] = []
    reached = ledger.advance(
        ExpenseClaim(ref_nbr=ref), ClaimStage.SUBMIT, in_flight={"On Hold"},
        on_send=lambda action, status: sent.append((action, status)),
    )  # fmt: skip
    assert reached == "Pending Approval"
    assert sent == []  # the running submit was waited for
    assert count(world, "POST", "/ExpenseClaim/SubmitExpenseClaim") == 1


def test_without_the_intent_a_running_action_would_be_sent_twice(world: World) -> None:
    """The hazard the guard closes: the claim still shows On Hold while the lost submit
    runs, and the emulator (like Acumatica) accepts a second submit."""
    from acumatica_client import APIConnectionError, ExpenseClaim
    from expense_bridge._claims import ClaimLedger

    world.add_approved(1)
    world.run(**CLAIMS, claim_stage=ClaimStage.HOLD)
    ref = world.acumatica.records("ExpenseClaim")[0]["RefNbr"]
    slow_actions(world, polls=3, seconds=3600)
    world.acumatica.inject(method="POST", path="SubmitExpenseClaim", drop_response=True)
    ledger = ClaimLedger(world.acu_client)
    with pytest.raises(APIConnectionError):
        ledger.advance(ExpenseClaim(ref_nbr=ref), ClaimStage.SUBMIT)
    ledger.advance(ExpenseClaim(ref_nbr=ref), ClaimStage.SUBMIT)  # no in_flight given
    assert count(world, "POST", "/ExpenseClaim/SubmitExpenseClaim") == 2


def test_sync_never_sends_a_claim_action_twice_while_it_may_still_run(world: World) -> None:
    rid = world.add_approved(1)
    slow_actions(world, polls=10_000, seconds=600)  # ten minutes, fewer than the window
    world.acumatica.inject(method="POST", path="SubmitExpenseClaim", drop_response=True)
    first = world.run(**CLAIMS)
    assert by_id(first)[rid].action is Action.PENDING
    advance = [
        (e.outcome, e.detail) for e in world.store.audit_trail(rid, "default")
        if e.step == "advance"
    ]  # fmt: skip
    assert advance[0] == ("sending", "SubmitExpenseClaim from On Hold")  # intent first

    world.clock.now += timedelta(minutes=1)
    second = world.run(**CLAIMS)  # the submit still runs: waited for, then left pending
    assert by_id(second)[rid].action is Action.PENDING
    assert "ClaimActionRunningError" in str(by_id(second)[rid].detail)
    assert count(world, "POST", "/ExpenseClaim/SubmitExpenseClaim") == 1
    assert claim_of(world, rid)["Status"] == "On Hold"

    world.clock.now += timedelta(minutes=20)  # the submit has finished meanwhile
    third = world.run(**CLAIMS)
    assert by_id(third)[rid].action is not Action.PENDING, by_id(third)[rid]
    assert claim_of(world, rid)["Status"] == "Pending Approval"
    assert count(world, "POST", "/ExpenseClaim/SubmitExpenseClaim") == 1
    assert count(world, "PUT", "/ExpenseClaim") == 1


def test_an_action_that_never_ran_is_sent_again_once_the_window_has_passed(
    world: World,
) -> None:
    rid = world.add_approved(1)
    # the submit is refused by a server error before it runs (nothing applied)
    world.acumatica.inject(method="POST", path="SubmitExpenseClaim", status=500, times=10)
    first = world.run(**CLAIMS)
    assert by_id(first)[rid].action is Action.PENDING
    assert claim_of(world, rid)["Status"] == "On Hold"
    world.acumatica.faults.clear()
    sent = count(world, "POST", "/ExpenseClaim/SubmitExpenseClaim")

    world.clock.now += timedelta(minutes=1)
    second = world.run(**CLAIMS)  # within the window: not sent again, left pending
    assert by_id(second)[rid].action is Action.PENDING
    assert count(world, "POST", "/ExpenseClaim/SubmitExpenseClaim") == sent

    world.clock.now += timedelta(minutes=20)  # nothing can still be running: sent again
    third = world.run(**CLAIMS)
    assert by_id(third)[rid].action is not Action.PENDING, by_id(third)[rid]
    assert claim_of(world, rid)["Status"] == "Pending Approval"
    assert count(world, "POST", "/ExpenseClaim/SubmitExpenseClaim") == sent + 1
