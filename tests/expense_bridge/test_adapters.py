"""The adapters against the emulators: the ports' contracts and call budgets hold."""

from __future__ import annotations

from datetime import timedelta

from expense_bridge._adapters import AcumaticaLedger, ExpensifySource
from expense_bridge._keys import DocumentKind
from expense_bridge._ports import ExpenseSource, Ledger
from expense_bridge.mapping import PlannedDocument, plan_report
from expensify_client import Report, ReportState
from tests.bridge_world import World

from ..integration import test_bridge_end_to_end as e2e
from ..integration.test_bridge_end_to_end import add_approved
from .fakes import NOW, POLICY, config, report
from .test_posting import ledger_for, tenant

world = e2e.world  # both emulators, real clients, a simulated clock (pytest fixture)


def _planned(ledger: AcumaticaLedger, *rids: str) -> list[PlannedDocument]:
    catalog = ledger.load_catalog()
    rules = config().rules
    return [
        doc
        for rid in rids
        for doc in plan_report(report(rid, card=True), policy=POLICY, catalog=catalog,
                               rules=rules, posting_date=NOW.date())
    ]  # fmt: skip


def _gets(emu: object, entity: str) -> int:
    log = emu.request_log  # type: ignore[attr-defined]
    return sum(1 for m, p, _ in log if m == "GET" and p.endswith(f"/{entity}"))


def test_acumatica_ledger_finds_what_it_created_by_key() -> None:
    emu = tenant()
    emu.seed("Account", [{"AccountCD": "22000", "Type": "Liability", "Active": True}])
    ledger = ledger_for(emu)
    assert isinstance(ledger, Ledger)
    ledger.check()
    docs = _planned(ledger, "R1", "R10")
    created = {d.key: ledger.create(d) for d in docs}
    assert sorted(created) == ["EXB-R1", "EXB-R1-C", "EXB-R10", "EXB-R10-C"]
    assert {d.kind for d in created.values()} == {DocumentKind.BILL, DocumentKind.JOURNAL}
    found = ledger.find_documents([(DocumentKind.BILL, "EXB-R1"),
                                   (DocumentKind.JOURNAL, "EXB-R1-C")])  # fmt: skip
    # "EXB-R1" is a prefix of "EXB-R10": the look-up must not confuse them.
    assert dict(found) == {"EXB-R1": created["EXB-R1"], "EXB-R1-C": created["EXB-R1-C"]}
    assert ledger.find_documents([(DocumentKind.BILL, "EXB-R2")]) == {}


def test_acumatica_ledger_looks_up_one_page_per_query() -> None:
    emu = tenant()
    emu.seed("Account", [{"AccountCD": "22000", "Type": "Liability", "Active": True}])
    ledger = ledger_for(emu)
    ledger.page_size = 2
    rids = [f"R{i}" for i in range(5)]
    for doc in _planned(ledger, *rids):
        ledger.create(doc)
    bills, journals = _gets(emu, "Bill"), _gets(emu, "JournalTransaction")
    keys = [(DocumentKind.BILL, f"EXB-{r}") for r in rids]
    keys += [(DocumentKind.JOURNAL, f"EXB-{r}-C") for r in rids]
    found = ledger.find_documents(keys)
    assert sorted(found) == sorted(k for _, k in keys)
    assert _gets(emu, "Bill") - bills == 3  # 5 keys, 2 per page
    assert _gets(emu, "JournalTransaction") - journals == 3


def test_acumatica_ledger_releases_a_created_bill() -> None:
    emu = tenant()
    emu.seed("Account", [{"AccountCD": "22000", "Type": "Liability", "Active": True}])
    ledger = ledger_for(emu)
    (bill, _journal) = _planned(ledger, "R1")
    doc = ledger.create(bill)
    assert emu.records("Bill")[0]["Status"] != "Open"
    ledger.release(doc)
    (record,) = emu.records("Bill")
    assert record["Status"] == "Open"  # released


def test_expensify_source_pulls_without_marking_and_acknowledges_in_one_job(
    world: World,
) -> None:
    source = ExpensifySource(world.exp_client)
    assert isinstance(source, ExpenseSource)
    r1, r2 = add_approved(world, 1), add_approved(world, 2)
    pull = {
        "policy_ids": ["POL1"],
        "states": [ReportState.APPROVED, ReportState.REIMBURSED],
        "approved_after": (world.clock.now - timedelta(days=3)).date(),
        "start_date": None,
        "end_date": None,
        "exclude_label": "Acumatica",
    }
    before = source.calls
    assert sorted(r.report_id for r in source.fetch_reports(**pull)) == sorted([r1, r2])
    assert sorted(r.report_id for r in source.fetch_reports(**pull)) == sorted([r1, r2])
    assert source.calls - before >= 4  # each pull: one export job + download poll(s)
    policies = source.get_policies(["POL1"])
    assert "Travel" in {c.name for c in policies["POL1"].categories}
    # The export carries each expense's category GL code (the getter may not).
    pulled = source.fetch_reports(**pull)
    assert all(isinstance(r, Report) for r in pulled)
    assert {e.category_gl_code for r in pulled if isinstance(r, Report) for e in r.expenses} <= {
        "61000", "62000", None
    }  # fmt: skip
    before = source.calls
    marked = source.acknowledge([r1], "Acumatica")
    assert marked == {r1}  # exported by the job and verified to carry the label
    # the marking job (onFinish) + its download, then the verification export + download
    assert 4 <= source.calls - before <= 5
    assert [r.report_id for r in source.fetch_reports(**pull)] == [r2]
    assert [r.report_id for r in source.fetch_by_ids([r1], [ReportState.APPROVED])] == [r1]
    before = source.calls
    assert source.acknowledge([], "Acumatica") == frozenset()
    assert source.calls == before  # nothing to mark: no job
