"""Random fault schedules (hypothesis stateful): crashes at step boundaries, creates whose
answer is lost, lost acknowledgements, new reports arriving -- then a clean sync.

Invariants, checked after every step: never two documents for one key; no report marked
exported without a document. At teardown, after one clean sync: exactly one document per
report, every report acknowledged, none lost.
"""

from __future__ import annotations

import contextlib
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from expense_bridge._store import ReportStatus, SQLiteStore
from expense_bridge._sync import _run

from .test_posting import NOW, Clock, FakeSource, config, ledger_for, report, tenant

STEPS = ("claimed", "intent", "created", "recorded", "posted")


class Crash(Exception):
    """An exception thrown into the bridge at a step boundary."""


class BridgeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.store = SQLiteStore(Path(self.tmp.name) / "state.sqlite3")
        self.emu = tenant()
        self.ledger = ledger_for(self.emu)  # one client (one API login) for every sync
        self.source = FakeSource([])
        self.clock = Clock(NOW)
        self.next_id = 0

    def teardown(self) -> None:
        self.source.fail_acknowledge = False
        self.emu.clear_faults()
        self.clock.now += timedelta(hours=1)
        _run(config(), self.ledger, self.source, self.store, dry_run=False, clock=self.clock,
             progress=None, on_step=None)  # fmt: skip
        refs = [str(b["VendorRef"]) for b in self.emu.records("Bill")]
        expected = sorted(f"EXB-{rid}" for rid in self.source.reports)
        assert sorted(refs) == expected  # exactly one document per report, none lost
        assert set(self.source.labels) == set(self.source.reports)  # all acknowledged
        for rid in self.source.reports:
            record = self.store.get("default", rid)
            assert record is not None
            assert record.status is ReportStatus.ACKNOWLEDGED
        self.store.close()
        self.tmp.cleanup()

    @rule(count=st.integers(1, 3))
    def new_reports(self, count: int) -> None:
        for _ in range(count):
            self.next_id += 1
            rid = f"R{self.next_id}"
            approved = self.clock.now - timedelta(minutes=5)
            self.source.reports[rid] = report(rid, approved=approved)

    @rule()
    def lose_next_create_answer(self) -> None:
        self.emu.inject(method="PUT", path="/Bill$", drop_response=True)

    @rule(fail=st.booleans())
    def acknowledgement_fails(self, fail: bool) -> None:
        self.source.fail_acknowledge = fail

    @rule(step=st.sampled_from(STEPS), nth=st.integers(0, 3), dry=st.booleans())
    def sync(self, step: str, nth: int, dry: bool) -> None:
        self.clock.now += timedelta(minutes=30)
        seen: list[str] = []

        def crash(at: str, rid: str) -> None:
            if at == step:
                seen.append(rid)
                if len(seen) == nth + 1:
                    raise Crash(f"crash at {at} of {rid}")

        with contextlib.suppress(Crash):
            _run(config(), self.ledger, self.source, self.store, dry_run=dry, clock=self.clock,
                 progress=None, on_step=crash)  # fmt: skip

    @invariant()
    def never_two_documents_for_one_key(self) -> None:
        refs = [str(b["VendorRef"]) for b in self.emu.records("Bill")]
        assert len(refs) == len(set(refs))

    @invariant()
    def never_marked_without_a_document(self) -> None:
        refs = {str(b["VendorRef"]) for b in self.emu.records("Bill")}
        for rid in self.source.labels:
            assert f"EXB-{rid}" in refs


BridgeMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=12, deadline=None)
TestBridgeFaults = BridgeMachine.TestCase
