"""Every report-level mapping error code, through sync(): the report is held with that code,
nothing is posted for it, and the rest of the batch still posts (Acumatica emulator).

Codes about the configuration itself (RULES_INVALID, DEFAULT_VALUE_UNKNOWN,
REIMBURSABLE_TARGET_INCOMPLETE) hold every report alike and are covered in the mapping
tests; CHANGED_AFTER_POSTING and LEDGER_REJECTED are raised by posting (test_posting.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import attrs
import pytest

from expense_bridge._errors import ErrorCode
from expense_bridge._results import Action
from expense_bridge._rules import AcumaticaField, CardTarget, TagMapping
from expense_bridge._store import ReportStatus, SQLiteStore
from expensify_client import Category, Expense, Policy, Report, TagLevel, TagValue

from . import test_posting as tp


def bad(rid: str = "R9", **expense: Any) -> Report:
    return tp.report(rid, tp.expense(f"{rid}-1", 1000, **expense))


def foreign(rid: str) -> Report:
    exp = Expense(transaction_id=f"{rid}-1", report_id=rid, amount_cents=900, currency="EUR",
                  created=date(2026, 11, 10), category="Travel")  # fmt: skip
    return tp.report(rid, exp)


Case = tuple[ErrorCode, Callable[[], Report], dict[str, Any], Policy | None]
WITH_OLD = attrs.evolve(
    tp.POLICY, categories=(*tp.POLICY.categories, Category(name="Old", gl_code="69000"))
)
ACME = (TagValue(level=1, name="Acme", gl_code="ACME01"),)
TAGGED = Policy(
    policy_id="POL1",
    categories=tp.POLICY.categories,
    tag_levels=(TagLevel(name="Project"), TagLevel(name="Dept", required=True)),
)
CASES: list[Case] = [
    (ErrorCode.CATEGORY_UNKNOWN, lambda: bad(category="Nope"), {}, None),
    (ErrorCode.CATEGORY_NO_GL_CODE, lambda: bad(category="Mystery"), {}, None),
    (ErrorCode.GL_ACCOUNT_INACTIVE, lambda: bad(category="Old"), {}, WITH_OLD),
    (ErrorCode.SUBMITTER_NO_VENDOR, lambda: tp.report("R9", email="ghost@firm.test"), {}, None),
    (ErrorCode.CURRENCY_UNSUPPORTED, lambda: attrs.evolve(bad(), currency="XYZ"), {}, None),
    (ErrorCode.CURRENCY_PRECISION, lambda: attrs.evolve(
        tp.report("R9", attrs.evolve(tp.expense("R9-1", 100050), currency="JPY")),
        currency="JPY"), {}, None),
    (ErrorCode.CONVERSION_MISSING, lambda: foreign("R9"), {}, None),
    (ErrorCode.REPORT_EMPTY, lambda: attrs.evolve(tp.report("R9"), expenses=()), {}, None),
    (ErrorCode.DATE_MISSING, lambda: attrs.evolve(tp.report("R9"), submitted=None),
     {"date_rule": __import__("expense_bridge").DateRule.SUBMITTED}, None),
    (ErrorCode.CARD_TARGET_INCOMPLETE, lambda: bad(reimbursable=False),
     {"card_target": CardTarget.JOURNAL}, None),
    (ErrorCode.TAG_VALUE_UNKNOWN, lambda: bad(tags=(TagValue(level=1, name="G", gl_code="GHOST"),)),
     {"tag_map": (TagMapping(level=1, field=AcumaticaField.PROJECT),)}, None),
    (ErrorCode.TAG_MISSING, lambda: bad(),
     {"tag_map": (TagMapping(level=1, field=AcumaticaField.PROJECT, required=True),)}, None),
    (ErrorCode.TAG_UNMAPPED, lambda: bad(tags=(TagValue(level=2, name="Sales"),)), {}, TAGGED),
    (ErrorCode.REPORT_ID_INVALID, lambda: tp.report("R-9"), {}, None),
]  # fmt: skip


@pytest.mark.parametrize(("code", "make", "rules", "policy"), CASES, ids=[c[0].name for c in CASES])
def test_each_code_holds_only_its_report(
    tmp_path: Path, code: ErrorCode, make: Callable[[], Report], rules: dict[str, Any],
    policy: Policy | None,
) -> None:  # fmt: skip
    emu = tp.tenant()
    emu.seed("Account", [{"AccountCD": "69000", "Type": "Expense", "Active": False}])
    report = make()
    emu.seed("Project", [{"ProjectID": "ACME01", "Status": "Active"}])
    good = tp.report("R1", tp.expense("R1-1", 12345, tags=ACME))  # valid under every rule
    source = tp.FakeSource([good, report])
    if policy is not None:
        source.get_policies = lambda ids: {"POL1": policy}  # type: ignore[method-assign]
    store = SQLiteStore(tmp_path / "state.sqlite3")
    result = tp.run(tp.config(**rules), emu, source, store)
    outcome = next(o for o in result.outcomes if o.report_id == report.report_id)
    assert outcome.action is Action.HELD
    assert code in {p.code for p in outcome.problems}
    assert all(p.fix for p in outcome.problems)
    assert tp.bills(emu) == ["EXB-R1"]  # nothing posted for it; the rest of the batch posted
    assert report.report_id not in source.labels
    record = store.get("default", report.report_id)
    assert record is not None
    assert record.status is ReportStatus.HELD
    assert code.value in record.error_codes
