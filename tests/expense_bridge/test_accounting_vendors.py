"""Issue 11: creating a missing employee vendor record (``rules.create_missing_vendors``).

End to end over both emulators: the vendor is created from the Acumatica employee once,
looked up by its deterministic ID before any create, found again after a lost create
answer, audited; off by default.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from expense_bridge import Action, ErrorCode, PostingRules
from expense_bridge._catalog import LedgerCatalog
from expense_bridge._rules import ReimbursableTarget
from expense_bridge._vendors import submitters_without_vendor, vendor_id_for
from expensify_client import Expense, Report, ReportState
from expensify_client.emulator import ExpenseSpec

from .test_accounting_support import World, close_world, make_world

GHOST = "ghost@firm.test"


def _world(tmp_path: Path, **rules: Any) -> World:
    world = make_world(tmp_path, rules=PostingRules(employee_liability_account="21000", **rules))
    world.acumatica.seed("Employee", [{"EmployeeID": "EP0002", "EmployeeName": "Gus Host",
                                       "Status": "Active",
                                       "ContactInfo": {"Email": GHOST}}])  # fmt: skip
    return world


def _approved(world: World, email: str, n: int) -> str:
    spec = ExpenseSpec(amount_cents=1000 * n, currency="USD", created=world.clock.now.date(),
                       merchant=f"Merchant {n}", category="Travel")  # fmt: skip
    rid = world.expensify.add_report(
        "POL1", submitter=email, name=f"Trip {n}", currency="USD", expenses=[spec],
        created=world.clock.now - timedelta(days=3),
    )  # fmt: skip
    world.expensify.submit(rid, world.clock.now - timedelta(days=2))
    world.expensify.approve(rid, world.clock.now - timedelta(hours=1))
    return rid


def _vendors(world: World, vendor_id: str) -> list[dict[str, Any]]:
    return [v for v in world.acumatica.records("Vendor") if v.get("VendorID") == vendor_id]


def _steps(world: World, rid: str) -> list[tuple[str, str | None]]:
    return [(e.outcome, e.document) for e in world.store.audit_trail(rid) if e.step == "vendor"]


def test_off_by_default_the_employee_code_is_the_bill_vendor(tmp_path: Path) -> None:
    assert PostingRules().create_missing_vendors is False
    world = _world(tmp_path)
    try:
        rid = _approved(world, GHOST, 1)
        assert world.sync().posted == 1
        (bill,) = world.acumatica.records("Bill")
        assert (bill["Vendor"], bill["VendorRef"]) == ("EP0002", f"EXB-{rid}")
        assert _vendors(world, "VEP0002") == []
        assert _steps(world, rid) == []
    finally:
        close_world(world)


def test_a_missing_vendor_is_created_once_from_the_employee(tmp_path: Path) -> None:
    world = _world(tmp_path, create_missing_vendors=True)
    try:
        first = _approved(world, GHOST, 1)
        ann = _approved(world, "ann@firm.test", 2)  # has a vendor record: used as is
        assert world.sync().posted == 2
        (vendor,) = _vendors(world, "VEP0002")
        assert vendor["VendorName"] == "Gus Host"
        assert vendor["MainContact"]["Email"] == GHOST
        bills = {b["VendorRef"]: b["Vendor"] for b in world.acumatica.records("Bill")}
        assert bills == {f"EXB-{first}": "VEP0002", f"EXB-{ann}": "EMP0001"}
        assert _steps(world, first) == [("created", "VEP0002")]
        second = _approved(world, GHOST, 3)  # the vendor is now in the catalog
        assert world.sync().posted == 1
        assert len(_vendors(world, "VEP0002")) == 1
        assert _steps(world, second) == []
        assert {b["Vendor"] for b in world.acumatica.records("Bill")} == {"VEP0002", "EMP0001"}
    finally:
        close_world(world)


def test_a_lost_create_answer_is_found_by_the_same_key(tmp_path: Path) -> None:
    world = _world(tmp_path, create_missing_vendors=True)
    try:
        rid = _approved(world, GHOST, 1)
        world.acumatica.inject(method="PUT", path="/Vendor", drop_response=True)
        result = world.sync()
        assert result.posted == 1
        assert len(_vendors(world, "VEP0002")) == 1
        assert _steps(world, rid) == [("unknown outcome", "VEP0002"), ("adopted", "VEP0002")]
        (bill,) = world.acumatica.records("Bill")
        assert bill["Vendor"] == "VEP0002"
    finally:
        close_world(world)


def test_a_vendor_created_by_an_earlier_run_is_adopted_not_created(tmp_path: Path) -> None:
    world = _world(tmp_path, create_missing_vendors=True)
    world.acumatica.seed(
        "Vendor", [{"VendorID": "VEP0002", "VendorName": "Gus Host", "Status": "Active"}]
    )  # fmt: skip  (its answer was lost)
    try:
        rid = _approved(world, GHOST, 1)
        assert world.sync().posted == 1
        assert _steps(world, rid) == [("adopted", "VEP0002")]
        assert len(_vendors(world, "VEP0002")) == 1
    finally:
        close_world(world)


def test_a_refused_create_holds_the_report_and_the_next_run_posts_it(tmp_path: Path) -> None:
    world = _world(tmp_path, create_missing_vendors=True)
    try:
        rid = _approved(world, GHOST, 1)
        world.acumatica.inject(method="PUT", path="/Vendor", status=422,
                               exception_message="Vendor class is required.")  # fmt: skip
        (outcome,) = world.sync().outcomes
        assert outcome.action is Action.HELD
        assert [p.code for p in outcome.problems] == [ErrorCode.SUBMITTER_NO_VENDOR]
        assert _steps(world, rid)[-1][0] == "failed"
        assert world.sync().posted == 1  # the fault is gone: created and posted
        assert len(_vendors(world, "VEP0002")) == 1
    finally:
        close_world(world)


def _report(email: str, *, reimbursable: bool = True) -> Report:
    from datetime import UTC, date, datetime

    expense = Expense(transaction_id="1", report_id="R1", amount_cents=100, currency="USD",
                      created=date(2026, 1, 1), reimbursable=reimbursable)  # fmt: skip
    return Report(report_id="R1", report_name="x", status=ReportState.APPROVED,
                  policy_id="P", currency="USD", total_cents=100, account_email=email,
                  created=datetime(2026, 1, 1, tzinfo=UTC), expenses=(expense,))  # fmt: skip


@pytest.mark.parametrize(
    ("rules", "report", "needed"),
    [
        ({}, _report("A@x.test"), {}),  # off
        ({"create_missing_vendors": True}, _report("A@x.test"), {"a@x.test": ("E1", "R1")}),
        ({"create_missing_vendors": True}, _report("b@x.test"), {}),  # has a vendor record
        ({"create_missing_vendors": True}, _report("c@x.test"), {}),  # not an employee
        ({"create_missing_vendors": True}, _report("a@x.test", reimbursable=False), {}),
        ({"create_missing_vendors": True,
          "reimbursable_target": ReimbursableTarget.JOURNAL}, _report("a@x.test"), {}),
    ],
)  # fmt: skip
def test_who_needs_a_vendor(rules: dict[str, Any], report: Report, needed: dict) -> None:
    catalog = LedgerCatalog(employee_by_email={"a@x.test": "E1", "b@x.test": "E2"},
                            vendor_record_by_email={"b@x.test": "V9"})  # fmt: skip
    rules_value = attrs.evolve(PostingRules(), **rules)
    assert submitters_without_vendor([report], catalog, rules_value) == needed
    assert vendor_id_for(" E1 ") == "VE1"


def test_a_dry_run_shows_the_vendor_it_would_create_and_sends_nothing(tmp_path: Path) -> None:
    world = _world(tmp_path, create_missing_vendors=True)
    try:
        rid = _approved(world, GHOST, 1)
        result = world.sync(dry_run=True)
        (outcome,) = result.outcomes
        assert outcome.action is Action.WOULD_POST
        assert "vendor VEP0002" in (outcome.detail or "")
        assert _vendors(world, "VEP0002") == []
        assert world.acumatica.records("Bill") == []
        assert _steps(world, rid) == []
    finally:
        close_world(world)


def test_post_report_creates_the_vendor_too(tmp_path: Path) -> None:
    from datetime import UTC, date, datetime

    from expense_bridge import post_report

    world = _world(tmp_path, create_missing_vendors=True)
    expense = Expense(transaction_id="T1", report_id="R77", amount_cents=2500, currency="USD",
                      created=date(2026, 11, 10), category="Travel",
                      category_gl_code="61000")  # fmt: skip
    report = Report(report_id="R77", report_name="Visit", status=ReportState.APPROVED,
                    policy_id="POL1", currency="USD", total_cents=2500, account_email=GHOST,
                    created=datetime(2026, 11, 11, tzinfo=UTC),
                    approved=datetime(2026, 11, 12, tzinfo=UTC),
                    expenses=(expense,))  # fmt: skip
    try:
        for _ in range(2):  # the second call finds everything done
            result = post_report(world.config, report, acumatica=world.acu_client,
                                 store=world.store, now=world.clock)  # fmt: skip
        assert result.outcome.action is Action.ALREADY_POSTED
        (bill,) = world.acumatica.records("Bill")
        assert (bill["Vendor"], bill["VendorRef"]) == ("VEP0002", "EXB-R77")
        assert len(_vendors(world, "VEP0002")) == 1
        assert _steps(world, "R77") == [("created", "VEP0002")]
    finally:
        close_world(world)
