"""Issue 11 end to end: billable flags, attendees, per-card routing through ``sync()``.

Both emulators: the Expensify emulator exports the report through the real template
(``cardNumber``, ``attendees``), the Acumatica emulator validates and stores the documents.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from expense_bridge import PostingRules
from expense_bridge._rules import CardTarget
from expensify_client import Attendee
from expensify_client.emulator import ExpenseSpec

from .test_accounting_support import World, close_world, make_world

CARD = "4242XXXXXXXX4242"


def _world(tmp_path: Path, **rules: Any) -> World:
    base = PostingRules(employee_liability_account="21000", card_liability_account="22000")
    world = make_world(tmp_path, rules=attrs.evolve(base, **rules))
    world.acumatica.seed("Account", [
        {"AccountCD": "22000", "Type": "Liability", "Active": True},
        {"AccountCD": "22100", "Type": "Liability", "Active": True},
    ])  # fmt: skip
    world.acumatica.seed("Vendor", [{"VendorID": "AMEX", "Status": "Active"},
                                    {"VendorID": "VISA", "Status": "Active"}])  # fmt: skip
    return world


def _spec(n: int, **kw: Any) -> ExpenseSpec:
    values: dict[str, Any] = {
        "amount_cents": 1000 * n,
        "currency": "USD",
        "created": date(2026, 11, 10),
        "merchant": f"Merchant {n}",
        "category": "Travel",
    }
    values.update(kw)
    return ExpenseSpec(**values)


def _approved(world: World, *expenses: ExpenseSpec) -> str:
    rid = world.expensify.add_report(
        "POL1", submitter="ann@firm.test", name="Client visit", currency="USD",
        expenses=list(expenses), created=world.clock.now - timedelta(days=3),
    )  # fmt: skip
    world.expensify.submit(rid, world.clock.now - timedelta(days=2))
    world.expensify.approve(rid, world.clock.now - timedelta(hours=1))
    return rid


def test_billable_attendees_and_card_routing_through_sync(tmp_path: Path) -> None:
    world = _world(tmp_path, card_accounts={CARD: "22100"})
    try:
        guests = (Attendee(email="bob@client.test", display_name="Bob Client"),
                  Attendee(email="cy@client.test"))  # fmt: skip
        rid = _approved(
            world,
            _spec(1, comment="Q3 review", billable=True, attendees=guests),
            _spec(2),
            _spec(3, reimbursable=False, card_number=CARD, bank="Visa Feed"),
            _spec(4, reimbursable=False, card_id="99", bank="Other Feed"),  # unmapped
        )
        result = world.sync()
        assert result.posted == 1
        (bill,) = world.acumatica.records("Bill")
        assert bill["VendorRef"] == f"EXB-{rid}"
        assert [d["NonBillable"] for d in bill["Details"]] == [False, True]
        assert bill["Details"][0]["TransactionDescription"] == (
            "Merchant 1 - Q3 review; attendees: Bob Client, cy@client.test"
        )
        (journal,) = world.acumatica.records("JournalTransaction")
        credits = [
            (d["Account"], Decimal(str(d["CreditAmount"])))
            for d in journal["Details"]
            if Decimal(str(d["CreditAmount"]))
        ]
        assert credits == [("22100", Decimal("30.00")), ("22000", Decimal("40.00"))]
        assert world.sync().posted == 0  # exactly once
    finally:
        close_world(world)


def test_a_card_bill_goes_to_the_cards_vendor(tmp_path: Path) -> None:
    world = _world(
        tmp_path, card_target=CardTarget.AP_BILL, card_vendor="AMEX",
        card_accounts={"Visa Feed": "VISA"},
    )  # fmt: skip
    try:
        rid = _approved(world, _spec(5, reimbursable=False, bank="Visa Feed"))
        assert world.sync().posted == 1
        (bill,) = world.acumatica.records("Bill")
        assert (bill["Vendor"], bill["VendorRef"]) == ("VISA", f"EXB-{rid}-C")
    finally:
        close_world(world)


def test_report_fields_reach_the_bill_header(tmp_path: Path) -> None:
    from expense_bridge import Action, ErrorCode

    world = _world(tmp_path, report_fields={"Client Project": "Project", "Purpose": "Description"})
    world.acumatica.seed("Project", [{"ProjectID": "ACME01", "Status": "Active"}])
    try:
        rid = world.expensify.add_report(
            "POL1", submitter="ann@firm.test", name="Client visit", currency="USD",
            expenses=[_spec(1)], created=world.clock.now - timedelta(days=3),
            fields={"Client Project": "ACME01", "Purpose": "Kick-off at Acme"},
        )  # fmt: skip
        held = world.expensify.add_report(
            "POL1", submitter="ann@firm.test", name="Other visit", currency="USD",
            expenses=[_spec(2)], created=world.clock.now - timedelta(days=3),
            fields={"Client Project": "NOSUCH"},
        )  # fmt: skip
        for report_id in (rid, held):
            world.expensify.submit(report_id, world.clock.now - timedelta(days=2))
            world.expensify.approve(report_id, world.clock.now - timedelta(hours=1))
        result = world.sync()
        outcomes = {o.report_id: o for o in result.outcomes}
        assert outcomes[held].action is Action.HELD
        assert [(p.code, p.field) for p in outcomes[held].problems] == [
            (ErrorCode.REPORT_FIELD_UNKNOWN, "report_fields.Client_Project")
        ]
        (bill,) = world.acumatica.records("Bill")
        assert (bill["VendorRef"], bill["Project"], bill["Description"]) == (
            f"EXB-{rid}",
            "ACME01",
            "Kick-off at Acme",
        )
    finally:
        close_world(world)


def test_currencies_checked_against_the_tenant_and_rates_recorded(tmp_path: Path) -> None:
    from expense_bridge import Action, ErrorCode
    from expense_bridge._rules import PostIn

    world = _world(tmp_path)
    try:

        def report_in(currency: str, *specs: ExpenseSpec) -> str:
            rid = world.expensify.add_report(
                "POL1", submitter="ann@firm.test", name=f"In {currency}", currency=currency,
                expenses=list(specs), created=world.clock.now - timedelta(days=3),
            )  # fmt: skip
            world.expensify.submit(rid, world.clock.now - timedelta(days=2))
            world.expensify.approve(rid, world.clock.now - timedelta(hours=1))
            return rid

        mixed = report_in(
            "USD", _spec(1), _spec(2, currency="EUR", currency_conversion_rate=Decimal("1.085"))
        )
        swedish = report_in("SEK", _spec(3, currency="SEK"))  # not in the tenant's list
        result = world.sync()
        outcomes = {o.report_id: o for o in result.outcomes}
        assert outcomes[mixed].action is Action.POSTED
        assert [(p.code, p.field) for p in outcomes[swedish].problems] == [
            (ErrorCode.CURRENCY_UNSUPPORTED, "currency")
        ]
        (bill,) = world.acumatica.records("Bill")
        assert (bill["VendorRef"], bill["CurrencyID"]) == (f"EXB-{mixed}", "USD")
        assert bill["Details"][1]["TransactionDescription"] == "Merchant 2 [EUR 20.00 @ 1.085]"
        assert Decimal(str(bill["Details"][1]["ExtendedCost"])) == Decimal("21.70")
        rates = [e for e in world.store.audit_trail(mixed) if e.step == "rates"]
        assert len(rates) == 1
        assert (rates[0].detail or "").endswith(" EUR->USD 1.085")
    finally:
        close_world(world)

    (tmp_path / "base").mkdir()
    world = _world(tmp_path / "base", post_in=PostIn.BASE, base_currency="USD")
    try:
        euro = world.expensify.add_report(
            "POL1", submitter="ann@firm.test", name="Euro trip", currency="EUR",
            expenses=[_spec(4, currency="EUR")], created=world.clock.now - timedelta(days=3),
        )  # fmt: skip
        world.expensify.submit(euro, world.clock.now - timedelta(days=2))
        world.expensify.approve(euro, world.clock.now - timedelta(hours=1))
        (outcome,) = world.sync().outcomes
        assert [p.code for p in outcome.problems] == [ErrorCode.CURRENCY_NOT_BASE]
        assert world.acumatica.records("Bill") == []
    finally:
        close_world(world)
