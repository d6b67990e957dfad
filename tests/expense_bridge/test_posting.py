"""Idempotent posting and the sync algorithm, against the Acumatica emulator.

The Expensify side here is a small strict double of :class:`ExpensifySource` (the export
filters' label and approvedAfter semantics, call counting); end-to-end tests over the
real Expensify emulator live in tests/integration.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acumatica_client import AcumaticaClient, ClientOptions, Endpoint, OAuth2
from acumatica_client.emulator import AcumaticaEmulator
from expense_bridge._config import AcumaticaSettings, BridgeConfig, ExpensifySettings
from expense_bridge._errors import ErrorCode
from expense_bridge._ledger import AcumaticaLedger
from expense_bridge._results import Action
from expense_bridge._rules import PostingRules
from expense_bridge._store import ReportStatus, SQLiteStore
from expense_bridge._sync import _run, export_windows
from expensify_client import APITimeoutError, Category, Expense, Policy, Report, ReportState

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = Policy(
    policy_id="POL1",
    categories=(
        Category(name="Travel", gl_code="61000"),
        Category(name="Meals", gl_code="62000"),
        Category(name="Mystery", gl_code=None),
    ),
)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FakeSource:
    """A strict stand-in for ExpensifySource: label and approvedAfter semantics, calls."""

    def __init__(self, reports: Sequence[Report]) -> None:
        self.reports = {r.report_id: r for r in reports}
        self.labels: dict[str, set[str]] = {}
        self.calls = 0
        self.fail_acknowledge = False
        self.fetches: list[date | None] = []

    def get_policies(self, ids: Sequence[str]) -> dict[str, Policy]:
        self.calls += 1
        return {POLICY.policy_id: POLICY} if POLICY.policy_id in ids else {}

    def fetch_reports(self, *, policy_ids, states, approved_after, start_date, end_date,
                      exclude_label) -> list[Report]:  # fmt: skip
        self.calls += 1
        self.fetches.append(approved_after)
        out = []
        for report in self.reports.values():
            if exclude_label in self.labels.get(report.report_id, set()):
                continue
            if report.status not in states or report.policy_id not in policy_ids:
                continue
            if approved_after is not None and (
                report.approved is None or report.approved.date() <= approved_after
            ):
                continue
            out.append(report)
        return out

    def fetch_by_ids(
        self, report_ids: Sequence[str], states: Sequence[ReportState]
    ) -> list[Report]:
        self.calls += 1
        return [self.reports[i] for i in report_ids
                if i in self.reports and self.reports[i].status in states]  # fmt: skip

    def acknowledge(
        self, report_ids: Sequence[str], label: str, states: Sequence[ReportState]
    ) -> frozenset[str]:
        self.calls += 1
        if self.fail_acknowledge:
            raise APITimeoutError("file: request timed out")  # marking may have happened
        for rid in report_ids:
            if self.reports[rid].status in states:
                self.labels.setdefault(rid, set()).add(label)
        return frozenset(r for r in report_ids if self.reports[r].status in states)


def expense(tid: str, cents: int, category: str = "Travel", **kw: object) -> Expense:
    return Expense(
        transaction_id=tid, report_id=tid.split("-")[0], amount_cents=cents, currency="USD",
        created=date(2026, 11, 10), merchant="Airline", category=category, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def report(rid: str, *expenses: Expense, approved: datetime = NOW - timedelta(days=3),
           email: str = "ann@firm.test") -> Report:  # fmt: skip
    exps = expenses or (expense(f"{rid}-1", 12345), expense(f"{rid}-2", 2050, "Meals"))
    return Report(
        report_id=rid, report_name=f"Trip {rid}", status=ReportState.APPROVED, policy_id="POL1",
        currency="USD", total_cents=sum(e.amount_cents for e in exps), account_email=email,
        created=approved - timedelta(days=2), submitted=approved - timedelta(days=1),
        approved=approved, expenses=exps,
    )  # fmt: skip


def tenant(**kw: object) -> AcumaticaEmulator:
    emu = AcumaticaEmulator(version="24.200.001", hold_on_entry=False, **kw)  # type: ignore[arg-type]
    emu.seed("Account", [
        {"AccountCD": "61000", "Type": "Expense", "Active": True},
        {"AccountCD": "62000", "Type": "Expense", "Active": True},
        {"AccountCD": "21000", "Type": "Liability", "Active": True},
    ])  # fmt: skip
    emu.seed("Subaccount", [{"SubaccountCD": "000000", "Active": True}])
    emu.seed("Vendor", [
        {"VendorID": "EMP0001", "Status": "Active", "MainContact": {"Email": "ann@firm.test"}},
    ])  # fmt: skip
    return emu


def ledger_for(emu: AcumaticaEmulator) -> AcumaticaLedger:
    auth = OAuth2(
        base_url="https://erp.test", client_id="expense-bridge@Company",
        client_secret="client-secret", username="admin", password="admin-password",
    )  # fmt: skip
    client = AcumaticaClient(
        base_url="https://erp.test", endpoint=Endpoint("Default", "24.200.001"), auth=auth,
        transport=emu.transport(), options=ClientOptions(sleep=lambda s: None),
    )  # fmt: skip
    return AcumaticaLedger(client, page_size=50)


def config(**rules: object) -> BridgeConfig:
    return BridgeConfig(
        acumatica=AcumaticaSettings(base_url="https://erp.test", endpoint_version="24.200.001",
                                    username="admin", client_id="expense-bridge@Company"),
        expensify=ExpensifySettings(partner_user_id="aa_bridge"),
        policies=("POL1",),
        rules=PostingRules(employee_liability_account="21000", **rules),  # type: ignore[arg-type]
    )  # fmt: skip


def run(cfg, emu, source, store, clock=None, **kw):  # type: ignore[no-untyped-def]
    return _run(cfg, ledger_for(emu), source, store, dry_run=kw.pop("dry_run", False),
                clock=clock or Clock(), progress=None, on_step=kw.pop("on_step", None))  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "state.sqlite3")


def bills(emu: AcumaticaEmulator) -> list[str]:
    return sorted(str(b["VendorRef"]) for b in emu.records("Bill"))


def test_first_sync_posts_acknowledges_and_second_posts_nothing(store: SQLiteStore) -> None:
    emu = tenant()
    source = FakeSource([report("R1"), report("R2")])
    first = run(config(), emu, source, store)
    assert bills(emu) == ["EXB-R1", "EXB-R2"]
    assert first.posted == 2
    assert {o.status for o in first.outcomes} == {ReportStatus.ACKNOWLEDGED}
    assert source.labels == {"R1": {"Acumatica"}, "R2": {"Acumatica"}}
    assert first.bookmark_after == NOW
    assert source.calls == 3  # policies, one export, one acknowledgement
    writes = [p for m, p, _ in emu.request_log if m == "PUT" and p.endswith("/Bill")]
    assert len(writes) == 2  # exactly one write per new document

    second = run(config(), emu, source, store)
    assert bills(emu) == ["EXB-R1", "EXB-R2"]
    assert second.outcomes == ()
    assert second.calls.expensify == 2  # policies + export; nothing to acknowledge


def test_dropped_create_is_adopted_not_duplicated(store: SQLiteStore) -> None:
    emu = tenant()
    emu.inject(method="PUT", path="/Bill$", drop_response=True)
    source = FakeSource([report("R1")])
    first = run(config(), emu, source, store)
    assert first.outcomes[0].action is Action.PENDING
    assert source.labels == {}  # never marked without a recorded document
    assert first.bookmark_after is None
    second = run(config(), emu, source, store)
    assert second.outcomes[0].action is Action.ADOPTED
    assert bills(emu) == ["EXB-R1"]
    assert source.labels == {"R1": {"Acumatica"}}
    trail = [(e.step, e.outcome) for e in store.audit_trail("R1")]
    assert ("create", "unknown outcome") in trail
    assert ("lookup", "adopted") in trail


@pytest.mark.parametrize("step", ["claimed", "intent", "created", "recorded", "posted"])
def test_crash_at_every_step_boundary_converges(store: SQLiteStore, step: str) -> None:
    emu = tenant()
    source = FakeSource([report("R1"), report("R2")])

    def crash(at: str, rid: str) -> None:
        if at == step and rid == "R1":
            raise RuntimeError(f"crash at {at}")

    with pytest.raises(RuntimeError):
        run(config(), emu, source, store, on_step=crash)
    assert "R1" not in source.labels or bills(emu).count("EXB-R1") == 1
    run(config(), emu, source, store)
    assert bills(emu) == ["EXB-R1", "EXB-R2"]  # exactly one document per report
    assert set(source.labels) == {"R1", "R2"}  # every posted report acknowledged
    for rid in ("R1", "R2"):
        record = store.get("default", rid)
        assert record is not None
        assert record.status is ReportStatus.ACKNOWLEDGED
        assert len(record.documents) == 1


def test_lost_acknowledgement_is_repeated_not_reposted(store: SQLiteStore) -> None:
    emu = tenant()
    source = FakeSource([report("R1")])
    source.fail_acknowledge = True
    first = run(config(), emu, source, store)
    assert first.errors
    assert first.bookmark_after is None
    source.fail_acknowledge = False
    second = run(config(), emu, source, store)
    assert bills(emu) == ["EXB-R1"]
    assert second.outcomes[0].action is Action.ALREADY_POSTED
    assert store.get("default", "R1").status is ReportStatus.ACKNOWLEDGED  # type: ignore[union-attr]


def test_mapping_problems_hold_only_that_report(store: SQLiteStore) -> None:
    emu = tenant()
    bad = report("R9", expense("R9-1", 500, "Mystery"), expense("R9-2", 700, "Nope"))
    nobody = report("R8", email="ghost@firm.test")
    source = FakeSource([report("R1"), bad, nobody])
    result = run(config(), emu, source, store)
    assert bills(emu) == ["EXB-R1"]
    held = {
        o.report_id: {p.code for p in o.problems}
        for o in result.outcomes
        if o.action is Action.HELD
    }
    assert held == {
        "R9": {ErrorCode.CATEGORY_NO_GL_CODE, ErrorCode.CATEGORY_UNKNOWN},
        "R8": {ErrorCode.SUBMITTER_NO_VENDOR},
    }
    assert set(source.labels) == {"R1"}
    assert result.bookmark_after == NOW  # held is terminal: the bookmark moves on
    record = store.get("default", "R9")
    assert record is not None
    assert record.status is ReportStatus.HELD
    assert record.report() == bad  # the export snapshot is kept for replay


def test_ledger_rejection_holds_with_field_messages(store: SQLiteStore) -> None:
    emu = tenant()
    emu.seed("Account", [{"AccountCD": "62000", "Type": "Expense", "Active": True}])
    source = FakeSource([report("R1")])
    # The catalog says 62000 is active; Acumatica deactivates it between read and write.
    ledger = ledger_for(emu)
    original = ledger.load_catalog

    def stale_catalog(**kw):  # type: ignore[no-untyped-def]
        catalog = original(**kw)
        emu.seed("Account", [{"AccountCD": "62000", "Type": "Expense", "Active": False}])
        return catalog

    ledger.load_catalog = stale_catalog  # type: ignore[method-assign]
    result = _run(config(), ledger, source, store, dry_run=False, clock=Clock(), progress=None,
                  on_step=None)  # fmt: skip
    (outcome,) = result.outcomes
    assert outcome.action is Action.HELD
    assert outcome.problems[0].code is ErrorCode.LEDGER_REJECTED
    assert "62000" in outcome.problems[0].message
    assert emu.records("Bill") == []


def test_changed_after_posting_is_held_not_posted_again(store: SQLiteStore) -> None:
    emu = tenant()
    source = FakeSource([report("R1")])
    run(config(), emu, source, store)
    changed = report("R1", expense("R1-1", 99999), approved=NOW + timedelta(hours=1))
    source.reports["R1"] = changed
    source.labels.clear()  # re-opened and re-approved: Expensify drops the label
    result = run(config(), emu, source, store)
    (outcome,) = result.outcomes
    assert outcome.action is Action.HELD
    assert outcome.problems[0].code is ErrorCode.CHANGED_AFTER_POSTING
    assert bills(emu) == ["EXB-R1"]


def test_dry_run_writes_nothing(store: SQLiteStore, tmp_path: Path) -> None:
    emu = tenant()
    source = FakeSource([report("R1"), report("R9", expense("R9-1", 5, "Nope"))])
    result = run(config(), emu, source, store, dry_run=True)
    actions = {o.report_id: o.action for o in result.outcomes}
    assert actions == {"R1": Action.WOULD_POST, "R9": Action.HELD}
    assert emu.records("Bill") == []
    assert source.labels == {}
    assert store.get("default", "R1") is None
    assert store.bookmark("default") is None
    assert store.runs("default") == []


def test_same_day_approval_after_the_last_poll_is_not_skipped(store: SQLiteStore) -> None:
    emu = tenant()
    clock = Clock(NOW)
    source = FakeSource([report("R1")])
    run(config(), emu, source, store, clock=clock)
    late = report("R2", approved=NOW + timedelta(hours=2))  # same calendar day as the poll
    source.reports["R2"] = late
    clock.now = NOW + timedelta(hours=3)
    run(config(), emu, source, store, clock=clock)
    assert bills(emu) == ["EXB-R1", "EXB-R2"]
    assert source.fetches[-1] is not None
    assert source.fetches[-1] < NOW.date()


def test_cash_trigger_finds_reports_approved_long_ago(store: SQLiteStore) -> None:
    from expense_bridge._rules import Trigger

    emu = tenant()
    old = report("R1", approved=NOW - timedelta(days=200))
    reimbursed = Report(
        **{f: getattr(old, f) for f in ("report_id", "report_name", "policy_id", "currency",
                                         "total_cents", "account_email", "created", "submitted",
                                         "approved", "expenses")},
        status=ReportState.REIMBURSED, reimbursed=NOW - timedelta(hours=1),
    )  # fmt: skip
    source = FakeSource([reimbursed])
    store.set_bookmark("default", NOW - timedelta(days=1))  # polled yesterday
    cfg = config(trigger=Trigger.REIMBURSED)
    run(cfg, emu, source, store)
    assert bills(emu) == ["EXB-R1"]


def test_racing_syncs_on_one_store_create_no_duplicates(tmp_path: Path) -> None:
    emu = tenant()
    path = tmp_path / "shared.sqlite3"
    source = FakeSource([report(f"R{i}") for i in range(12)])
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            run(config(), emu, source, SQLiteStore(path))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert bills(emu) == sorted(f"EXB-R{i}" for i in range(12))


def _minus_year(day: date) -> date:
    return (
        day.replace(year=day.year - 1)
        if (day.month, day.day) != (2, 29)
        else date(day.year - 1, 3, 1)
    )


def _plus_year(day: date) -> date:
    return (
        day.replace(year=day.year + 1)
        if (day.month, day.day) != (2, 29)
        else date(day.year + 1, 2, 28)
    )


@given(
    today=st.dates(date(2020, 1, 1), date(2035, 12, 31)),
    back=st.integers(0, 4 * 366),
    skew=st.integers(-1, 1),
)
def test_export_windows_respect_the_one_year_rule(today: date, back: int, skew: int) -> None:
    start = today - timedelta(days=back)
    windows = export_windows(start, today)
    assert windows[0][0] == start
    # Expensify's "today" may be a day off ours (time zone undocumented): still accepted.
    theirs = today + timedelta(days=skew)
    for anchor, end in windows:
        if end is None:
            assert anchor >= _minus_year(theirs)  # no endDate only for anchors < 1 year old
        else:
            assert end <= _plus_year(anchor)  # span at most one calendar year
    for (_, end), (b, _) in itertools.pairwise(windows):
        assert b == end  # contiguous: approvedAfter excludes its own day
    last_end = windows[-1][1]
    assert last_end is None or last_end >= today  # reaches today


def test_a_one_year_look_back_is_one_export() -> None:
    today = date(2026, 11, 20)
    assert export_windows(date(2026, 10, 1), today) == [(date(2026, 10, 1), None)]
    assert export_windows(today - timedelta(days=365), today) == [
        (today - timedelta(days=365), today)
    ]


def test_api_budget_for_many_reports(store: SQLiteStore) -> None:
    emu = tenant()
    source = FakeSource([report(f"R{i:03d}") for i in range(120)])
    result = run(config(), emu, source, store)
    assert result.posted == 120
    assert result.calls.expensify == 3
    lookups = [p for m, p, _ in emu.request_log if m == "GET" and p.endswith("/Bill")]
    assert len(lookups) == 3  # one per page of 50 keys
    assert len([p for m, p, _ in emu.request_log if m == "PUT" and p.endswith("/Bill")]) == 120


def test_post_report_is_idempotent_and_replay_posts_a_fixed_report(store: SQLiteStore) -> None:
    from expense_bridge import post_report, replay

    emu = tenant()
    cfg = config()
    client = ledger_for(emu).client
    first = post_report(cfg, report("R1"), acumatica=client, store=store, policy=POLICY)
    again = post_report(cfg, report("R1"), acumatica=client, store=store, policy=POLICY)
    assert first.outcome.action is Action.POSTED
    assert again.outcome.action is Action.ALREADY_POSTED
    assert bills(emu) == ["EXB-R1"]

    orphan = report("R2", email="new.hire@firm.test")
    held = post_report(cfg, orphan, acumatica=client, store=store, policy=POLICY)
    assert held.outcome.action is Action.HELD
    assert [p.code for p in held.outcome.problems] == [ErrorCode.SUBMITTER_NO_VENDOR]
    emu.seed("Vendor", [{"VendorID": "EMP0002", "Status": "Active",
                         "MainContact": {"Email": "new.hire@firm.test"}}])  # fmt: skip
    fixed = replay(cfg, "R2", acumatica=client, store=store, policy=POLICY)
    assert fixed.outcome.action is Action.POSTED
    assert bills(emu) == ["EXB-R1", "EXB-R2"]
    noop = replay(cfg, "R2", acumatica=client, store=store, policy=POLICY)
    assert noop.outcome.action is Action.ALREADY_POSTED
    assert noop.outcome.detail == "already posted: nothing to replay"


def test_the_old_argument_order_still_works_for_one_release_and_warns(store: SQLiteStore) -> None:
    from expense_bridge import post_report, replay

    emu = tenant()
    cfg = config()
    client = ledger_for(emu).client
    with pytest.warns(DeprecationWarning, match=r"post_report\(config, report, \.\.\.\)"):
        first = post_report(report("R1"), config=cfg, acumatica=client, store=store,
                            policy=POLICY)  # fmt: skip
    assert first.outcome.action is Action.POSTED
    assert bills(emu) == ["EXB-R1"]
    with pytest.warns(DeprecationWarning, match=r"replay\(config, report_id, \.\.\.\)"):
        noop = replay("R1", config=cfg, acumatica=client, store=store, policy=POLICY)
    assert noop.outcome.action is Action.ALREADY_POSTED
    # Every keyword, or the new order: no warning (pytest turns warnings into errors).
    again = post_report(config=cfg, report=report("R1"), acumatica=client, store=store,
                        policy=POLICY)  # fmt: skip
    assert again.outcome.action is Action.ALREADY_POSTED
    assert replay(report_id="R1", config=cfg, acumatica=client, store=store).outcome.action is (
        Action.ALREADY_POSTED
    )
    with pytest.raises(TypeError):
        post_report(cfg, report("R1"), config=cfg, acumatica=client, store=store)


def test_unknown_default_branch_holds_every_report_before_any_write(store: SQLiteStore) -> None:
    emu = tenant()
    emu.seed_branches([{"BranchID": "MAIN", "BranchName": "Main"}])
    recent = NOW - timedelta(hours=20)  # inside the overlap: seen again by the next sync
    source = FakeSource([report("R1", approved=recent), report("R2", approved=recent)])
    result = run(config(default_branch="GHOST"), emu, source, store)
    assert {o.action for o in result.outcomes} == {Action.HELD}
    assert {p.code for o in result.outcomes for p in o.problems} == {
        ErrorCode.DEFAULT_VALUE_UNKNOWN
    }
    assert emu.records("Bill") == []
    ok = run(config(default_branch="MAIN"), emu, source, store)
    assert ok.posted == 2


def test_a_200_report_sync_keeps_every_url_within_2048_bytes(store: SQLiteStore) -> None:
    import httpx

    emu = tenant()
    inner = emu.transport()
    sizes: list[int] = []

    class Recording(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            sizes.append(len(request.url.raw_path))
            return inner.handle_request(request)

    auth = OAuth2(
        base_url="https://erp.test", client_id="expense-bridge@Company",
        client_secret="client-secret", username="admin", password="admin-password",
    )  # fmt: skip
    client = AcumaticaClient(
        base_url="https://erp.test", endpoint=Endpoint("Default", "24.200.001"), auth=auth,
        transport=Recording(), options=ClientOptions(sleep=lambda s: None),
    )  # fmt: skip
    ledger = AcumaticaLedger(client, page_size=50)
    # Long report IDs (34 characters: the longest whose keys fit 40) make long look-ups.
    rids = [f"R{i:033d}" for i in range(200)]
    source = FakeSource([report(rid) for rid in rids])
    result = _run(config(), ledger, source, store, dry_run=False, clock=Clock(), progress=None,
                  on_step=None)  # fmt: skip
    assert {p.code for o in result.outcomes for p in o.problems} == set()
    assert result.posted == 200
    assert bills(emu) == sorted(f"EXB-{rid}" for rid in rids)
    lookups = [p for m, p, _ in emu.request_log if m == "GET" and p.endswith("/Bill")]
    assert len(lookups) > 4  # pages were cut by URL length, not only by 50 keys
    assert max(sizes) <= 2048
