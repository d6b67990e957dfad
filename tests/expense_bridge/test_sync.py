"""sync() against the strict in-memory ports (tests/expense_bridge/fakes.py).

The same algorithm also runs against the Acumatica emulator in test_posting.py and over
both emulators in tests/integration; here the fakes let a test place a fault exactly
(a lost answer, another worker between the look-up and the claim, a lost label).
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from acumatica_client import Bill, EndpointVersionError
from expense_bridge._errors import ConfigError, ErrorCode
from expense_bridge._ports import ExpenseSource, Ledger
from expense_bridge._results import Action, SyncResult
from expense_bridge._rules import Trigger
from expense_bridge._store import ReportStatus, SQLiteStore
from expense_bridge._sync import _run
from expensify_client import ReportState

from .fakes import NOW, Clock, FakeLedger, FakeSource, config, expense, report


def run(
    ledger: FakeLedger,
    source: FakeSource,
    store: SQLiteStore,
    *,
    clock: Clock | None = None,
    dry_run: bool = False,
    on_step: Any = None,
    **rules: Any,
) -> SyncResult:
    return _run(
        config(**rules),
        ledger,
        source,
        store,
        dry_run=dry_run,
        clock=clock or Clock(),
        progress=None,
        on_step=on_step,
    )


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    s = SQLiteStore(tmp_path / "state.sqlite3")
    yield s  # type: ignore[misc]
    s.close()


def test_the_fakes_implement_the_ports() -> None:
    assert isinstance(FakeLedger(), Ledger)
    assert isinstance(FakeSource(), ExpenseSource)


def test_bill_and_journal_posted_once_and_acknowledged(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    source = FakeSource([report("R1", card=True), report("R2")])
    first = run(ledger, source, store)
    assert ledger.keys() == ["EXB-R1", "EXB-R1-C", "EXB-R2"]
    kinds = {d.key: d.kind.value for d in ledger.documents}
    assert kinds == {"EXB-R1": "bill", "EXB-R1-C": "journal", "EXB-R2": "bill"}
    assert first.posted == 2
    assert ledger.writes == 3  # one write per new document
    assert ledger.lookups == 2  # one page of bill keys, one page of journal keys
    assert source.calls == 3  # policies, one export, one acknowledgement
    assert source.acks == [("R1", "R2")]
    record = store.get("default", "R1")
    assert record is not None
    assert record.status is ReportStatus.ACKNOWLEDGED
    assert sorted(d.key for d in record.documents) == ["EXB-R1", "EXB-R1-C"]

    second = run(ledger, source, store)
    assert second.outcomes == ()
    assert ledger.writes == 3
    assert second.calls.expensify == 2  # nothing to acknowledge: no export job
    assert second.calls.acumatica == 2  # check + catalog; no look-up without keys


def test_call_budget_for_many_reports(store: SQLiteStore) -> None:
    ledger = FakeLedger(page_size=50)
    source = FakeSource([report(f"R{i:03d}", card=i % 2 == 0) for i in range(120)])
    result = run(ledger, source, store)
    assert result.posted == 120
    # Reports are claimed 50 at a time and each page is looked up after its claims:
    # pages of 50, 50 and 20 reports, one bill and one journal look-up each.
    assert ledger.lookups == 3 * 2
    assert ledger.writes == 180
    assert ledger.fetches == 0  # nothing found by key: no document read
    assert result.calls.expensify == 3
    assert result.calls.acumatica == 2 + 6 + 180


def test_dropped_create_answer_is_adopted_on_the_next_run(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    ledger.faults = ["drop"]
    source = FakeSource([report("R1"), report("R2")])
    first = run(ledger, source, store)
    actions = {o.report_id: o.action for o in first.outcomes}
    assert actions == {"R1": Action.PENDING, "R2": Action.ACKNOWLEDGED} or actions == {
        "R1": Action.PENDING,
        "R2": Action.POSTED,
    }
    assert source.labelled() == {"R2"}  # never marked without a recorded document
    assert store.get("default", "R1").status is ReportStatus.POSTING  # type: ignore[union-attr]
    assert first.bookmark_after is None  # R1 is not terminal
    second = run(ledger, source, store)
    assert [(o.report_id, o.action) for o in second.outcomes] == [("R1", Action.ADOPTED)]
    assert ledger.keys() == ["EXB-R1", "EXB-R2"]
    assert source.labelled() == {"R1", "R2"}
    assert second.bookmark_after == NOW


def test_refused_create_is_retried_next_run(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    ledger.faults = ["refuse"]
    source = FakeSource([report("R1")])
    assert run(ledger, source, store).outcomes[0].action is Action.PENDING
    assert ledger.keys() == []
    assert run(ledger, source, store).outcomes[0].action is Action.POSTED
    assert ledger.keys() == ["EXB-R1"]


def test_another_worker_after_our_look_up_cannot_create(store: SQLiteStore) -> None:
    """Worker B starts after our look-up: we hold the lease, so B skips R1, creates nothing."""
    ledger = FakeLedger()
    source = FakeSource([report("R1")])
    clock = Clock()
    other: list[SyncResult] = []

    def worker_b() -> None:
        ledger.after_lookup = None
        other.append(run(ledger, source, SQLiteStore(store.path), clock=clock))

    ledger.after_lookup = worker_b
    result = run(ledger, source, store, clock=clock)
    assert [(o.report_id, o.action) for o in other[0].outcomes] == [("R1", Action.SKIPPED)]
    assert ledger.keys() == ["EXB-R1"]  # exactly one document, created by the lease holder
    assert result.outcomes[0].action is Action.POSTED


def test_lost_answer_of_another_worker_is_adopted_after_our_claim(store: SQLiteStore) -> None:
    """B created R1 and died before recording it; our look-up follows our claim: adopted."""
    ledger = FakeLedger()
    source = FakeSource([report("R1")])
    ledger.faults = ["drop"]
    run(ledger, source, SQLiteStore(store.path))  # worker B: created, answer lost
    assert store.get("default", "R1").status is ReportStatus.POSTING  # type: ignore[union-attr]
    result = run(ledger, source, store)
    assert result.outcomes[0].action is Action.ADOPTED
    assert ledger.keys() == ["EXB-R1"]
    assert ledger.fetches == 1  # the found bill was read and compared before adoption


def test_racing_syncs_that_both_looked_up_create_no_duplicates(tmp_path: Path) -> None:
    ledger = FakeLedger()
    source = FakeSource([report(f"R{i}", card=i % 3 == 0) for i in range(15)])
    path = tmp_path / "shared.sqlite3"
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    results: list[SyncResult] = []

    def worker() -> None:
        try:
            start.wait(timeout=30)
            results.append(run(ledger, source, SQLiteStore(path)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    expected = sorted(
        [f"EXB-R{i}" for i in range(15)] + [f"EXB-R{i}-C" for i in range(15) if i % 3 == 0]
    )
    assert ledger.keys() == expected
    assert sum(r.posted for r in results) == 15
    ledger.after_lookup = None
    run(ledger, source, SQLiteStore(path))  # whatever one worker skipped is finished
    assert source.labelled() == set(source.reports)


def test_lost_label_is_reacknowledged_not_reposted(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    source = FakeSource([report("R1", approved=NOW - timedelta(hours=2))])
    run(ledger, source, store)
    source.labels.clear()  # the label is gone (e.g. removed by hand), content unchanged
    result = run(ledger, source, store)
    assert ledger.keys() == ["EXB-R1"]
    (outcome,) = result.outcomes
    assert outcome.action is Action.ALREADY_POSTED
    assert outcome.status is ReportStatus.ACKNOWLEDGED
    assert source.acks == [("R1",), ("R1",)]
    assert source.labelled() == {"R1"}


def test_lost_acknowledgement_answer_keeps_the_bookmark_and_repeats(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    source = FakeSource([report("R1")])
    source.faults = ["lost"]  # Expensify marked it, the answer never came back
    first = run(ledger, source, store)
    assert first.errors
    assert first.bookmark_after is None
    assert store.get("default", "R1").status is ReportStatus.POSTED  # type: ignore[union-attr]
    second = run(ledger, source, store)  # not pulled again (labelled) but still POSTED
    assert second.outcomes[0].action is Action.ACKNOWLEDGED
    assert second.bookmark_after == NOW
    assert ledger.keys() == ["EXB-R1"]


def test_held_reports_do_not_block_the_rest(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    bad = report("R9", expense("R9-1", 500, "Mystery"), expense("R9-2", 700, "Nope"))
    source = FakeSource([report("R1"), bad, report("R5"), report("R8", email="x@firm.test")])
    ledger.faults = ["ok", "reject"]  # R1 fine, R5 rejected by the ledger
    result = run(ledger, source, store)
    held = {o.report_id: sorted(p.code.value for p in o.problems) for o in result.outcomes
            if o.action is Action.HELD}  # fmt: skip
    assert held == {
        "R5": [ErrorCode.LEDGER_REJECTED.value],
        "R8": [ErrorCode.SUBMITTER_NO_VENDOR.value],
        "R9": sorted([ErrorCode.CATEGORY_NO_GL_CODE.value, ErrorCode.CATEGORY_UNKNOWN.value]),
    }
    rejected = next(o for o in result.outcomes if o.report_id == "R5").problems[0]
    assert "Details[0].Account" in rejected.message  # the ledger's field messages
    assert ledger.keys() == ["EXB-R1"]
    assert source.labelled() == {"R1"}
    assert ledger.writes == 2  # mapping holds never reached the ledger
    assert result.bookmark_after == NOW  # held is terminal
    for rid in ("R5", "R8", "R9"):
        assert store.get("default", rid).status is ReportStatus.HELD  # type: ignore[union-attr]


def test_changed_after_posting_is_held_and_keeps_the_posted_snapshot(
    store: SQLiteStore,
) -> None:
    ledger = FakeLedger()
    original = report("R1")
    source = FakeSource([original])
    run(ledger, source, store)
    # Re-opened, edited to a category that no longer maps, re-approved: the label is lost.
    source.add(report("R1", expense("R1-1", 99999, "Nope"), approved=NOW + timedelta(hours=1)))
    clock = Clock(NOW + timedelta(hours=2))
    result = run(ledger, source, store, clock=clock)
    (outcome,) = result.outcomes
    assert outcome.action is Action.HELD
    assert [p.code for p in outcome.problems] == [ErrorCode.CHANGED_AFTER_POSTING]
    record = store.get("default", "R1")
    assert record is not None
    assert record.report() == original  # the snapshot of what was posted is kept
    assert [d.key for d in record.documents] == ["EXB-R1"]
    # The category is fixed later: still never posted a second time.
    source.add(report("R1", expense("R1-1", 99999), approved=NOW + timedelta(hours=1)))
    again = run(ledger, source, store, clock=Clock(NOW + timedelta(hours=3)))
    assert [p.code for p in again.outcomes[0].problems] == [ErrorCode.CHANGED_AFTER_POSTING]
    assert ledger.keys() == ["EXB-R1"]
    assert source.labelled() == set()


def test_dry_run_writes_nothing_anywhere(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    source = FakeSource([report("R1"), report("R2"), report("R9", expense("R9-1", 5, "Nope"))])
    ledger.faults = ["drop"]
    run(ledger, source, store)  # R1 created, answer lost: POSTING; R2 posted
    assert ledger.keys() == ["EXB-R1", "EXB-R2"]
    with sqlite3.connect(store.path) as raw:  # type: ignore[arg-type]
        before = {t: raw.execute(f"SELECT * FROM {t}").fetchall()  # noqa: S608
                  for t in ("reports", "documents", "bookmarks", "runs", "audit")}  # fmt: skip
    writes, acks = ledger.writes, list(source.acks)
    result = run(ledger, source, store, dry_run=True)
    actions = {o.report_id: o.action for o in result.outcomes}
    assert actions == {"R1": Action.WOULD_ADOPT, "R9": Action.HELD}  # R2 is labelled
    assert ledger.writes == writes
    assert source.acks == acks
    with sqlite3.connect(store.path) as raw:  # type: ignore[arg-type]
        after = {t: raw.execute(f"SELECT * FROM {t}").fetchall()  # noqa: S608
                 for t in ("reports", "documents", "bookmarks", "runs", "audit")}  # fmt: skip
    assert after == before


def test_bookmark_overlap_and_same_day_approval(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    clock = Clock(NOW)
    source = FakeSource([report("R1")], clock=clock)
    first = run(ledger, source, store, clock=clock)
    # First run: now - initial_lookback (30 d) - overlap (2 d) - 1 day (approvedAfter
    # excludes its own day).
    assert source.exports[-1]["approved_after"] == (NOW - timedelta(days=33)).date()
    assert first.bookmark_after == NOW
    source.add(report("R2", approved=NOW + timedelta(hours=2)))  # same day as the poll
    clock.now = NOW + timedelta(hours=3)
    second = run(ledger, source, store, clock=clock)
    assert source.exports[-1]["approved_after"] == (NOW - timedelta(days=3)).date()
    assert [o.report_id for o in second.outcomes] == ["R2"]
    assert second.bookmark_after == clock.now


def test_bookmark_kept_while_a_report_is_pending(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    source = FakeSource([report("R1")])
    store.set_bookmark("default", NOW - timedelta(days=1))
    ledger.faults = ["refuse"]
    result = run(ledger, source, store)
    assert result.bookmark_after == NOW - timedelta(days=1)
    assert store.bookmark("default") == NOW - timedelta(days=1)


def test_cash_trigger_looks_back_a_year_in_one_export(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    clock = Clock(NOW)
    old = report("R1", approved=NOW - timedelta(days=300), state=ReportState.REIMBURSED)
    approved_only = report("R2", approved=NOW - timedelta(days=5))
    source = FakeSource([old, approved_only], clock=clock)
    store.set_bookmark("default", NOW - timedelta(days=1))  # polled yesterday
    result = run(ledger, source, store, clock=clock, trigger=Trigger.REIMBURSED)
    assert ledger.keys() == ["EXB-R1"]  # approved 300 days ago, reimbursed recently
    assert result.calls.expensify == 3  # policies, ONE export, acknowledgement
    assert source.exports == [
        {"approved_after": (NOW - timedelta(days=365)).date(), "start_date": None,
         "end_date": NOW.date()}
    ]  # fmt: skip


def test_configuration_problems_raise_before_anything_is_written(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    source = FakeSource([report("R1")], policies=())
    with pytest.raises(ConfigError) as info:
        run(ledger, source, store)
    assert [p.field for p in info.value.problems] == ["policies"]
    with pytest.raises(ConfigError) as version:
        run(FakeLedger(served_version="23.200.001"), FakeSource([report("R1")]), store)
    assert [p.field for p in version.value.problems] == ["acumatica.endpoint_version"]
    assert "23.200.001" in version.value.problems[0].message  # what the server offers
    assert isinstance(version.value.__cause__, EndpointVersionError)
    assert ledger.writes == 0
    assert store.with_status("default") == []


def test_a_report_claimed_by_a_live_worker_is_skipped(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    source = FakeSource([report("R1"), report("R2")])
    assert store.claim("default", "R1", "other-worker", NOW, 600)
    result = run(ledger, source, store)
    actions = {o.report_id: o.action for o in result.outcomes}
    assert actions["R1"] is Action.SKIPPED
    assert ledger.keys() == ["EXB-R2"]
    assert result.bookmark_after is None  # R1 is not terminal
    later = run(ledger, source, store, clock=Clock(NOW + timedelta(minutes=11)))  # lease over
    assert [(o.report_id, o.action) for o in later.outcomes] == [("R1", Action.POSTED)]
    assert ledger.keys() == ["EXB-R1", "EXB-R2"]


def test_content_changed_after_a_partial_post_is_held(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    source = FakeSource([report("R1", card=True, approved=NOW - timedelta(hours=5))])
    ledger.faults = ["ok", "refuse"]  # the bill is created, the journal's create fails
    first = run(ledger, source, store)
    assert first.outcomes[0].action is Action.PENDING
    assert ledger.keys() == ["EXB-R1"]
    edited = report("R1", expense("R1-1", 777), expense("R1-3", 999, reimbursable=False),
                    card=True, approved=NOW - timedelta(hours=1))  # fmt: skip
    source.add(edited)
    second = run(ledger, source, store)
    (outcome,) = second.outcomes
    assert [p.code for p in outcome.problems] == [ErrorCode.CHANGED_AFTER_POSTING]
    assert ledger.keys() == ["EXB-R1"]  # no journal made from the edited content
    assert source.labelled() == set()


def test_content_changed_after_a_lost_create_answer_is_held(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    source = FakeSource([report("R1", approved=NOW - timedelta(hours=5))])
    ledger.faults = ["drop"]
    run(ledger, source, store)
    source.add(report("R1", expense("R1-1", 777), approved=NOW - timedelta(hours=1)))
    result = run(ledger, source, store)
    assert [p.code for p in result.outcomes[0].problems] == [ErrorCode.CHANGED_AFTER_POSTING]
    record = store.get("default", "R1")
    assert record is not None
    assert [d.number for d in record.documents] == [ledger.documents[0].number]  # found, kept
    again = run(ledger, source, store, clock=Clock(NOW + timedelta(hours=1)))
    assert [p.code for p in again.outcomes[0].problems] == [ErrorCode.CHANGED_AFTER_POSTING]
    assert ledger.keys() == ["EXB-R1"]


def test_acknowledged_only_when_expensify_confirms_the_mark(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    source = FakeSource([report("R1"), report("R2")])
    source.refuses_marks = {"R2"}  # archived/re-opened before the mark: not marked
    first = run(ledger, source, store)
    assert store.get("default", "R1").status is ReportStatus.ACKNOWLEDGED  # type: ignore[union-attr]
    assert store.get("default", "R2").status is ReportStatus.POSTED  # type: ignore[union-attr]
    assert ("acknowledge", "not confirmed") in [
        (e.step, e.outcome) for e in store.audit_trail("R2")
    ]
    assert first.bookmark_after is None  # R2 is not terminal
    source.refuses_marks = set()
    run(ledger, source, store)
    assert store.get("default", "R2").status is ReportStatus.ACKNOWLEDGED  # type: ignore[union-attr]
    assert ledger.keys() == ["EXB-R1", "EXB-R2"]


def test_a_carried_over_report_edited_since_posting_is_held_not_marked(
    store: SQLiteStore,
) -> None:
    ledger = FakeLedger()
    old = report("R1", approved=NOW - timedelta(days=30))
    source = FakeSource([old])
    source.faults = ["refused"]  # the acknowledgement fails: R1 stays POSTED
    store.set_bookmark("default", NOW - timedelta(days=31))
    run(ledger, source, store)
    assert store.get("default", "R1").status is ReportStatus.POSTED  # type: ignore[union-attr]
    # Edited in Expensify without leaving the pull window's reach (approved long ago).
    source.reports["R1"] = report("R1", expense("R1-1", 555), approved=NOW - timedelta(days=30))
    store.set_bookmark("default", NOW)  # the next pull no longer sees R1
    second = run(ledger, source, store, clock=Clock(NOW + timedelta(days=1)))
    assert source.by_ids  # re-read by ID before any mark
    assert source.labelled() == set()  # never marked over its stale document
    record = store.get("default", "R1")
    assert record is not None
    assert record.status is ReportStatus.HELD
    assert record.error_codes == ("EB-CHANGED-AFTER-POSTING",)
    assert [o.action for o in second.outcomes] == [Action.HELD]


def test_cash_trigger_posts_card_only_at_approved_but_waits_for_reimbursable(
    store: SQLiteStore,
) -> None:
    ledger = FakeLedger()
    card_only = report("R1", expense("R1-1", 999, reimbursable=False))
    waiting = report("R2")  # reimbursable, approved, not reimbursed yet
    source = FakeSource([card_only, waiting])
    run(ledger, source, store, trigger=Trigger.REIMBURSED)
    assert ledger.keys() == ["EXB-R1-C"]
    assert store.get("default", "R2") is None
    assert source.labelled() == {"R1"}


def test_a_report_whose_total_disagrees_with_its_lines_is_held(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    bad = attrs.evolve(report("R1"), total_cents=1)
    source = FakeSource([bad, report("R2")])
    result = run(ledger, source, store)
    held = {o.report_id: [p.code for p in o.problems] for o in result.outcomes if o.problems}
    assert held == {"R1": [ErrorCode.TOTAL_MISMATCH]}
    assert "0.01 USD" in result.outcomes[0].problems[0].message  # both figures named
    assert "143.95 USD" in result.outcomes[0].problems[0].message
    assert ledger.keys() == ["EXB-R2"]


def test_a_found_document_with_other_lines_is_not_adopted(store: SQLiteStore) -> None:
    ledger = FakeLedger()
    source = FakeSource([report("R1")])
    ledger.faults = ["drop"]
    run(ledger, source, store)  # created, answer lost
    number = ledger.documents[0].number
    saved = ledger.contents[number]
    assert isinstance(saved, Bill)
    first_line = attrs.evolve(saved.details[0], extended_cost=Decimal("1.00"))
    ledger.contents[number] = attrs.evolve(saved, details=(first_line, *saved.details[1:]))
    result = run(ledger, source, store)
    (outcome,) = result.outcomes
    assert [p.code for p in outcome.problems] == [ErrorCode.DOCUMENT_MISMATCH]
    assert number in outcome.problems[0].message
    assert ledger.keys() == ["EXB-R1"]
    assert source.labelled() == set()


def test_an_unreadable_report_is_held_naming_its_problem_and_the_rest_post(
    store: SQLiteStore,
) -> None:
    from expensify_client import ReportProblem, UnparsedReport

    ledger = FakeLedger()
    source = FakeSource([report("R1")])
    problem = ReportProblem("reports[1].currency", "unknown or retired currency", "'HRK'")
    source.unparsed = [UnparsedReport(report_id="R9", problems=(problem,))]
    result = run(ledger, source, store)
    outcomes = {o.report_id: o for o in result.outcomes}
    assert outcomes["R1"].status is ReportStatus.ACKNOWLEDGED  # the others are unaffected
    assert [p.code for p in outcomes["R9"].problems] == [ErrorCode.REPORT_UNPARSED]
    assert "HRK" in outcomes["R9"].problems[0].message
    record = store.get("default", "R9")
    assert record is not None
    assert record.status is ReportStatus.HELD
    assert record.error_codes == ("EB-REPORT-UNPARSED",)
    assert ledger.keys() == ["EXB-R1"]
