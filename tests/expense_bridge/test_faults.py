"""Random fault schedules over the strict fakes (hypothesis stateful).

Faults: a crash (exception) at any step boundary of any report, creates whose answer is
lost or that never arrive, acknowledgements lost after or before the marking, labels
removed in Expensify, a second worker that runs (and maybe crashes) between our look-up
and our claims, dry runs -- interleaved with new reports (bills and card journals).

Invariants after every step: never two documents for one key; no report labelled in
Expensify, or POSTED/ACKNOWLEDGED in the store, without every one of its documents.
At teardown, after one clean sync: exactly one document per key, every report
acknowledged and labelled, none lost.
"""

from __future__ import annotations

import contextlib
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from expense_bridge._store import ReportStatus, SQLiteStore
from expense_bridge._sync import _run

from .fakes import NOW, Clock, FakeLedger, FakeSource, config, report

STEPS = ("claimed", "intent", "created", "recorded", "posted")


class Crash(Exception):
    """An exception thrown into the bridge at a step boundary."""


def crasher(step: str | None, nth: int) -> object:
    """An ``on_step`` hook raising at the ``nth`` report that reaches ``step``."""
    seen: list[str] = []

    def hook(at: str, rid: str) -> None:
        if at == step:
            seen.append(rid)
            if len(seen) == nth + 1:
                raise Crash(f"crash at {at} of {rid}")

    return hook


class BridgeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.path = Path(self.tmp.name) / "state.sqlite3"
        self.store = SQLiteStore(self.path)
        self.clock = Clock(NOW)
        self.ledger = FakeLedger(page_size=3)
        self.source = FakeSource(clock=self.clock)
        self.expected: dict[str, list[str]] = {}  # report -> its document keys
        self.next_id = 0

    def _sync(self, store: SQLiteStore, step: str | None, nth: int, dry: bool) -> None:
        with contextlib.suppress(Crash):
            _run(config(), self.ledger, self.source, store, dry_run=dry, clock=self.clock,
                 progress=None, on_step=crasher(step, nth))  # type: ignore[arg-type]  # fmt: skip

    @rule(count=st.integers(1, 3), card=st.booleans())
    def new_reports(self, count: int, card: bool) -> None:
        for _ in range(count):
            self.next_id += 1
            rid = f"R{self.next_id}"
            self.source.add(report(rid, approved=self.clock.now - timedelta(minutes=5), card=card))
            self.expected[rid] = [f"EXB-{rid}", *([f"EXB-{rid}-C"] if card else [])]

    @rule(fault=st.sampled_from(["drop", "refuse", "ok"]))
    def ledger_fault(self, fault: str) -> None:
        self.ledger.faults.append(fault)

    @rule(fault=st.sampled_from(["lost", "refused"]))
    def acknowledgement_fault(self, fault: str) -> None:
        self.source.faults.append(fault)

    @precondition(lambda self: bool(self.source.labelled()))
    @rule(data=st.data())
    def label_removed(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(sorted(self.source.labelled())))
        self.source.labels.pop(rid)

    @rule(
        step=st.sampled_from((None, *STEPS)),
        nth=st.integers(0, 3),
        dry=st.booleans(),
        other=st.none() | st.tuples(st.sampled_from((None, *STEPS)), st.integers(0, 3)),
    )
    def sync(
        self, step: str | None, nth: int, dry: bool, other: tuple[str | None, int] | None
    ) -> None:
        self.clock.now += timedelta(minutes=30)
        if other is not None:  # a second worker runs between our look-up and our claims
            other_step, other_nth = other

            def second_worker() -> None:
                self.ledger.after_lookup = None
                self._sync(SQLiteStore(self.path), other_step, other_nth, False)

            self.ledger.after_lookup = second_worker
        try:
            self._sync(self.store, step, nth, dry)
        finally:
            self.ledger.after_lookup = None

    @invariant()
    def never_two_documents_for_one_key(self) -> None:
        keys = self.ledger.keys()
        assert len(keys) == len(set(keys))

    @invariant()
    def never_marked_or_posted_without_every_document(self) -> None:
        keys = set(self.ledger.keys())
        for rid in self.source.labelled():
            assert set(self.expected[rid]) <= keys
        for record in self.store.with_status(
            "default", ReportStatus.POSTED, ReportStatus.ACKNOWLEDGED
        ):
            assert sorted(d.key for d in record.documents) == sorted(
                self.expected[record.report_id]
            )

    def teardown(self) -> None:
        self.ledger.faults.clear()
        self.source.faults.clear()
        self.clock.now += timedelta(hours=1)
        _run(config(), self.ledger, self.source, self.store, dry_run=False, clock=self.clock,
             progress=None, on_step=None)  # fmt: skip
        every_key = sorted(k for keys in self.expected.values() for k in keys)
        assert self.ledger.keys() == every_key  # exactly one document per key, none lost
        assert self.source.labelled() == set(self.expected)  # every report acknowledged
        for rid, keys in self.expected.items():
            record = self.store.get("default", rid)
            assert record is not None
            assert record.status is ReportStatus.ACKNOWLEDGED
            assert sorted(d.key for d in record.documents) == sorted(keys)
        self.store.close()
        self.tmp.cleanup()


BridgeMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=15, deadline=None)
TestBridgeFaults = BridgeMachine.TestCase
