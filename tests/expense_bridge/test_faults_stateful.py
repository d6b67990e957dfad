"""Random fault schedules (hypothesis stateful) over the Acumatica emulator.

Rules: new reports; reports edited (re-opened and re-approved) between runs; creates whose
answer is lost; acknowledgements that fail or silently do not apply (a report archived or
re-opened before the mark); syncs crashing at any step boundary; and *overlapping* syncs:
a second run started at any step of the first, with or without the first's lease lapsed.

Invariants, checked on the emulator's and the source's state after every step:

* at most one document per key;
* nothing marked exported without a matching document (its amount is the report's total
  as it was when it was marked);
* a held report carries a reason.

At teardown, after clean syncs: every eligible report (not edited after a document was
written for it) has exactly one document whose amount matches the report as last approved
and is acknowledged; a report edited after its document was written is held, not marked.

Profiles: the default (CI) runs ``CI_SCHEDULES`` schedules; ``HYPOTHESIS_PROFILE=thorough``
runs ``THOROUGH_SCHEDULES``. Every schedule runs with one posting thread
(``TestBridgeFaults``) and with several (``TestBridgeFaultsConcurrent``,
``rules.posting_concurrency``); there the overlapping run starts once the first run's
other workers are parked at step boundaries (see :class:`~.concurrency.Parking`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import attrs
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from expense_bridge._store import ReportStatus, SQLiteStore
from expense_bridge._sync import _run
from expensify_client import ReportState

from .concurrency import CONCURRENCIES, Parking
from .test_posting import NOW, Clock, FakeSource, config, expense, ledger_for, report, tenant

STEPS = ("claimed", "looked_up", "intent", "created", "recorded", "posted")
CI_DEFAULT = 200
CI_SCHEDULES = int(os.environ.get("EB_FAULT_SCHEDULES", str(CI_DEFAULT)))
THOROUGH_SCHEDULES = 3000


class Crash(Exception):
    """An exception thrown into the bridge at a step boundary."""


class Source(FakeSource):
    """FakeSource that can refuse marks and remembers each report's total when marked."""

    def __init__(self) -> None:
        super().__init__([])
        self.refuses: set[str] = set()
        self.marked_total: dict[str, int] = {}

    def acknowledge(
        self, report_ids: Sequence[str], label: str, states: Sequence[ReportState]
    ) -> frozenset[str]:
        self.calls += 1
        if self.fail_acknowledge:
            for rid in report_ids:  # the marking happened, the answer was lost
                if rid not in self.refuses and self.reports[rid].status in states:
                    self.labels.setdefault(rid, set()).add(label)
                    self.marked_total[rid] = self.reports[rid].total_cents
            from expensify_client import APITimeoutError

            raise APITimeoutError("file: read timed out")
        marked = set()
        for rid in report_ids:
            if rid not in self.refuses and self.reports[rid].status in states:
                self.labels.setdefault(rid, set()).add(label)
                self.marked_total[rid] = self.reports[rid].total_cents
                marked.add(rid)
        return frozenset(marked)


class BridgeMachine(RuleBasedStateMachine):
    #: rules.posting_concurrency of every sync (1: no worker threads).
    concurrency = 1

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.path = Path(self.tmp.name) / "state.sqlite3"
        self.store = SQLiteStore(self.path)
        self.emu = tenant()
        self.ledger = ledger_for(self.emu)  # one client (one API login) for every sync
        self.source = Source()
        self.clock = Clock(NOW)
        self.next_id = 0
        self.edited_after_document: set[str] = set()

    # -- helpers
    def _bills(self) -> dict[str, list[Decimal]]:
        out: dict[str, list[Decimal]] = {}
        for bill in self.emu.records("Bill"):
            out.setdefault(str(bill["VendorRef"]), []).append(Decimal(bill["Amount"]))
        return out

    def _sync(
        self, on_step: object = None, store: SQLiteStore | None = None, progress: object = None
    ) -> None:
        _run(config(posting_concurrency=self.concurrency), self.ledger, self.source,
             store or self.store, dry_run=False, clock=self.clock, progress=progress,  # type: ignore[arg-type]
             on_step=on_step)  # type: ignore[arg-type]  # fmt: skip

    def teardown(self) -> None:
        try:
            self.source.fail_acknowledge = False
            self.source.refuses.clear()
            self.emu.clear_faults()
            for _ in range(2):  # the second confirms nothing is left to do
                self.clock.now += timedelta(hours=1)
                self._sync()
            bills = self._bills()
            for rid, current in self.source.reports.items():
                key = f"EXB-{rid}"
                record = self.store.get("default", rid)
                assert record is not None, f"{rid} lost"
                assert len(bills.get(key, [])) == 1, f"{rid}: {bills.get(key)}"
                if rid in self.edited_after_document:
                    # Held (or acknowledged only if its document happens to match again).
                    if record.status is not ReportStatus.ACKNOWLEDGED:
                        assert record.status is ReportStatus.HELD
                        assert record.error_codes
                        assert rid not in self.source.labels
                    continue
                assert bills[key] == [Decimal(current.total_cents) / 100]  # as last approved
                assert record.status is ReportStatus.ACKNOWLEDGED, (rid, record.status)
                assert rid in self.source.labels
        finally:
            self.store.close()
            self.tmp.cleanup()

    # -- rules
    @rule(count=st.integers(1, 3))
    def new_reports(self, count: int) -> None:
        for _ in range(count):
            self.next_id += 1
            rid = f"R{self.next_id}"
            approved = self.clock.now - timedelta(minutes=5)
            self.source.reports[rid] = report(rid, approved=approved)

    @rule(pick=st.integers(0, 50), cents=st.integers(1, 99999))
    def edit_report(self, pick: int, cents: int) -> None:
        """Re-opened, edited and re-approved: a new amount, the label dropped."""
        if not self.source.reports:
            return
        rid = sorted(self.source.reports)[pick % len(self.source.reports)]
        old = self.source.reports[rid]
        if f"EXB-{rid}" in self._bills():
            self.edited_after_document.add(rid)
        self.clock.now += timedelta(minutes=1)
        exps = (expense(f"{rid}-1", cents),)
        self.source.reports[rid] = attrs.evolve(
            old, expenses=exps, total_cents=cents, approved=self.clock.now
        )
        self.source.labels.pop(rid, None)

    @rule(pick=st.integers(0, 50))
    def mark_will_not_apply(self, pick: int) -> None:
        """The report is archived/re-opened before the mark: Expensify does not mark it."""
        if self.source.reports:
            rid = sorted(self.source.reports)[pick % len(self.source.reports)]
            self.source.refuses.add(rid)

    @rule()
    def marks_apply_again(self) -> None:
        self.source.refuses.clear()

    @rule()
    def lose_next_create_answer(self) -> None:
        self.emu.inject(method="PUT", path="/Bill$", drop_response=True)

    @rule(fail=st.booleans())
    def acknowledgement_fails(self, fail: bool) -> None:
        self.source.fail_acknowledge = fail

    @rule(step=st.sampled_from(STEPS), nth=st.integers(0, 3))
    def crashing_sync(self, step: str, nth: int) -> None:
        self.clock.now += timedelta(minutes=30)
        seen: list[str] = []

        def crash(at: str, rid: str) -> None:
            if at == step:
                seen.append(rid)
                if len(seen) == nth + 1:
                    raise Crash(f"crash at {at} of {rid}")

        with contextlib.suppress(Crash):
            self._sync(crash)

    @rule(step=st.sampled_from(STEPS), nth=st.integers(0, 3), lapse=st.booleans(),
          b_crash=st.sampled_from((None, *STEPS)))  # fmt: skip
    def overlapping_syncs(self, step: str, nth: int, lapse: bool, b_crash: str | None) -> None:
        """Run B starts while run A is at a step boundary (A's lease lapsed or not)."""
        self.clock.now += timedelta(minutes=30)
        seen: list[str] = []
        other = SQLiteStore(self.path)
        parking = Parking()

        def run_b() -> None:
            if lapse:
                self.clock.now += timedelta(seconds=601)

            def b_hook(at: str, rid: str) -> None:
                if at == b_crash:
                    raise Crash("B crashes")

            with contextlib.suppress(Crash):
                self._sync(b_hook, store=other)

        def a_hook(at: str, rid: str) -> None:
            if at == step:
                seen.append(rid)
                if len(seen) == nth + 1:
                    with parking.stopped():  # A's other workers wait at step boundaries
                        run_b()

        try:
            self._sync(parking.hook(a_hook), progress=parking.progress)
        finally:
            other.close()

    @rule()
    def sync(self) -> None:
        self.clock.now += timedelta(minutes=30)
        self._sync()

    # -- invariants (on the emulator's and the source's state)
    @invariant()
    def at_most_one_document_per_key(self) -> None:
        for key, amounts in self._bills().items():
            assert len(amounts) == 1, f"{key}: {len(amounts)} documents"

    @invariant()
    def nothing_marked_without_a_matching_document(self) -> None:
        bills = self._bills()
        for rid, labels in self.source.labels.items():
            if "Acumatica" not in labels:
                continue
            amounts = bills.get(f"EXB-{rid}")
            assert amounts, f"{rid} marked without a document"
            assert amounts == [Decimal(self.source.marked_total[rid]) / 100], rid

    @invariant()
    def held_reports_carry_a_reason(self) -> None:
        for record in self.store.with_status("default", ReportStatus.HELD):
            assert record.error_codes, record.report_id


_THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
BridgeMachine.TestCase.settings = settings(
    max_examples=THOROUGH_SCHEDULES if _THOROUGH else CI_SCHEDULES,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestBridgeFaults = BridgeMachine.TestCase


class ConcurrentBridgeMachine(BridgeMachine):
    """The same schedules with several posting threads in every sync."""

    concurrency = max(CONCURRENCIES)


ConcurrentBridgeMachine.TestCase.settings = BridgeMachine.TestCase.settings
TestBridgeFaultsConcurrent = ConcurrentBridgeMachine.TestCase


def test_the_ci_profile_runs_a_few_hundred_and_thorough_thousands() -> None:
    assert 200 <= CI_DEFAULT < 1000 <= THOROUGH_SCHEDULES
