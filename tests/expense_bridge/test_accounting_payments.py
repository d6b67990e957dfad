"""Payment status back to Expensify (issue 11): a paid bill marks its report reimbursed.

Over both emulators: the Acumatica emulator's bill is paid by updating it as a released
AP payment leaves it (``Status = Closed``, ``Balance = 0``); the Expensify emulator
applies the ``reportStatus`` job (Approved -> Reimbursed, anything else skipped).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from expense_bridge import Action, PostingRules, Trigger
from expense_bridge._payments import FINAL, STEP

from .test_accounting_support import World, close_world, make_world


def world_for(tmp_path: Path, **rules: Any) -> World:
    base: dict[str, Any] = {"employee_liability_account": "21000"}
    base.update(rules)
    return make_world(tmp_path, rules=PostingRules(**base))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = world_for(tmp_path, mark_reimbursed_when_paid=True)
    yield w
    close_world(w)


def bill_of(world: World, rid: str) -> dict[str, Any]:
    return next(b for b in world.acumatica.records("Bill") if b["VendorRef"] == f"EXB-{rid}")


def pay(world: World, rid: str) -> None:
    """The bill as a released AP payment leaves it: Closed, nothing left to pay."""
    bill = bill_of(world, rid)
    world.acumatica.seed(
        "Bill",
        [{"Type": bill["Type"], "ReferenceNbr": bill["ReferenceNbr"], "Status": "Closed",
          "Balance": 0}],
    )  # fmt: skip


def state(world: World, rid: str) -> str:
    return str(world.expensify.report(rid)["state"])


def trail(world: World, rid: str) -> list[str]:
    return [e.outcome for e in world.store.audit_trail(rid, "default") if e.step == STEP]


def later(world: World, hours: int = 1) -> None:
    from datetime import timedelta

    world.clock.now += timedelta(hours=hours)


def test_a_paid_bill_marks_its_report_reimbursed_once(world: World) -> None:
    paid, unpaid = world.add_approved(1), world.add_approved(2)
    first = world.sync()
    assert first.posted == 2
    assert state(world, paid) == "APPROVED"

    later(world)
    quiet = world.sync()  # posted, not paid: nothing to mark, one bill query
    assert quiet.ok
    assert state(world, paid) == "APPROVED"
    assert trail(world, paid) == []

    pay(world, paid)
    later(world)
    result = world.sync()
    assert result.ok
    assert state(world, paid) == "REIMBURSED"
    assert state(world, unpaid) == "APPROVED"
    assert trail(world, paid) == ["marking", "marked reimbursed"]
    assert any(f"marked reimbursed in Expensify: {paid}" in w for w in result.warnings)
    entry = world.expensify.report(paid)["entryID"]
    assert result.calls.expensify == quiet.calls.expensify + 1  # one reportStatus job

    later(world)
    again = world.sync()  # nothing due for the marked report
    assert state(world, paid) == "REIMBURSED"
    assert world.expensify.report(paid)["entryID"] == entry  # reimbursed exactly once
    assert trail(world, paid) == ["marking", "marked reimbursed"]
    assert again.calls == quiet.calls


def test_a_lost_answer_is_resolved_without_a_second_reimbursement(world: World) -> None:
    rid = world.add_approved(1)
    world.sync()
    pay(world, rid)
    world.expensify.inject(job_type="update/reportStatus", drop_response=True)
    later(world)
    lost = world.sync()
    assert not lost.ok
    assert any("marking reports reimbursed failed" in e for e in lost.errors)
    assert state(world, rid) == "REIMBURSED"  # the job landed; its answer did not
    assert trail(world, rid) == ["marking", "failed"]
    entry = world.expensify.report(rid)["entryID"]

    later(world)
    retried = world.sync()
    assert retried.ok
    assert trail(world, rid) == ["marking", "failed", "marking", "already reimbursed"]
    assert world.expensify.report(rid)["entryID"] == entry  # Expensify refused a second time
    later(world)
    world.sync()
    assert trail(world, rid)[-1] in FINAL
    assert len(trail(world, rid)) == 4


def test_off_by_default(tmp_path: Path) -> None:
    world = world_for(tmp_path)
    try:
        rid = world.add_approved(1)
        world.sync()
        pay(world, rid)
        later(world)
        world.sync()
        assert state(world, rid) == "APPROVED"
        assert trail(world, rid) == []
    finally:
        close_world(world)


def test_cash_trigger_never_marks(tmp_path: Path) -> None:
    world = world_for(tmp_path, mark_reimbursed_when_paid=True, trigger=Trigger.REIMBURSED)
    try:
        rid = world.add_approved(1)
        world.expensify.reimburse(rid, world.clock.now)
        world.sync()
        pay(world, rid)
        later(world)
        result = world.sync()
        assert result.ok
        assert trail(world, rid) == []
    finally:
        close_world(world)


def test_a_report_reimbursed_in_expensify_meanwhile_is_recorded_not_remarked(world: World) -> None:
    rid = world.add_approved(1)
    world.sync()
    world.expensify.reimburse(rid, world.clock.now)  # paid some other way
    entry = world.expensify.report(rid)["entryID"]
    pay(world, rid)
    later(world)
    result = world.sync()
    assert result.ok
    assert trail(world, rid) == ["marking", "already reimbursed"]
    assert world.expensify.report(rid)["entryID"] == entry


def test_card_bills_and_held_reports_are_not_considered(tmp_path: Path) -> None:
    world = world_for(tmp_path, mark_reimbursed_when_paid=True)
    try:
        held = world.add_approved(2, category="Mystery")
        world.sync()
        later(world)
        result = world.sync()
        assert [o.action for o in result.outcomes] == [Action.HELD]
        assert trail(world, held) == []
        assert all("payments" not in w for w in result.warnings)
    finally:
        close_world(world)


def test_a_failed_bill_look_up_is_a_run_error_and_retried(world: World) -> None:
    rid = world.add_approved(1)
    world.sync()
    pay(world, rid)
    later(world)
    world.acumatica.inject(method="GET", path="/Bill", status=500, times=50)
    failed = world.sync()
    assert any("payment status look-up failed" in e for e in failed.errors)
    assert state(world, rid) == "APPROVED"
    world.acumatica.clear_faults()
    later(world)
    assert world.sync().ok
    assert state(world, rid) == "REIMBURSED"


def test_configuration_name() -> None:
    from expense_bridge import BridgeConfig

    base: dict[str, Any] = {
        "policies": ["P"],
        "acumatica": {"base_url": "https://x.test", "endpoint_version": "24.200.001",
                      "username": "u", "client_id": "a@b"},
        "expensify": {"partner_user_id": "p"},
    }  # fmt: skip
    assert not BridgeConfig.from_mapping(base).rules.mark_reimbursed_when_paid
    on = BridgeConfig.from_mapping({**base, "rules": {"mark_reimbursed_when_paid": True}})
    assert on.rules.mark_reimbursed_when_paid
    assert BridgeConfig.from_mapping(on.to_mapping()) == on
    assert attrs.evolve(on.rules, mark_reimbursed_when_paid=False) == PostingRules()


def test_reports_acknowledged_long_ago_are_no_longer_watched(world: World) -> None:
    from datetime import timedelta

    from expense_bridge._payments import PAYMENT_LOOKBACK

    rid = world.add_approved(1)
    world.sync()
    pay(world, rid)
    later(world)
    world.clock.now += PAYMENT_LOOKBACK + timedelta(days=1)
    world.acumatica.inject(method="GET", path="/Bill", status=500, times=50)
    result = world.sync()
    assert result.ok  # a Bill query would have failed the payment step
    assert state(world, rid) == "APPROVED"
    assert trail(world, rid) == []
