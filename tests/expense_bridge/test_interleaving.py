"""Two runs interleaved deterministically at every point of the posting protocol.

Run A is stopped at each of its step boundaries (``on_step``) in turn; there, run B runs
-- from start to end, or crashing at each of *its* step boundaries in turn, with or
without A's lease having lapsed (the clock moved past it), with or without B's crashed
process keeping its leases. Then A carries on, and a last clean run finishes whatever
is left. Checked directly:

* the ledger never receives a create for a key it already holds (at the moment of the
  create, not only at the end);
* every create is sent by the run holding the report's lease (the last successful claim
  of that report is that run's) with a look-up of the report made after that claim;
* at the end: exactly one document per key and every report marked exported.

Each case runs with one posting thread and with several (``rules.posting_concurrency``):
then A's other workers are parked at their step boundaries while B runs (see
:class:`~.concurrency.Parking`), so "A stopped at a step" means the whole run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from expense_bridge._results import SyncResult
from expense_bridge._store import SQLiteStore
from expense_bridge._sync import _run
from expense_bridge.mapping import PlannedDocument

from .concurrency import CONCURRENCIES, Parking, RunStack
from .fakes import Clock, FakeLedger, FakeSource, config, report


def _nothing(step: str, rid: str) -> None:
    return None


class Crash(Exception):
    """Thrown into a run at a step boundary."""


class Tracer:
    """Who did what: claims, look-ups and creates, attributed to the active run."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []  # (run, step, report)
        self.active = RunStack()  # the run each thread (and its posting workers) serves

    def hook(self, name: str, then: Callable[[str, str], None]) -> Callable[[str, str], None]:
        def on_step(step: str, rid: str) -> None:
            self.events.append((name, step, rid))
            then(step, rid)

        return on_step


class CheckedLedger(FakeLedger):
    """A FakeLedger that checks the protocol's invariants at every create."""

    def __init__(self, tracer: Tracer) -> None:
        super().__init__()
        self.tracer = tracer

    def create(self, planned: PlannedDocument, *, on_body: Any = None) -> Any:
        assert planned.key not in self.keys(), f"second create for {planned.key}"
        who = self.tracer.active[-1]
        rid = planned.report_id
        claims = [i for i, (_, step, r) in enumerate(self.tracer.events)
                  if step == "claimed" and r == rid]  # fmt: skip
        assert claims, f"create for {rid} without any claim"
        last = claims[-1]
        assert self.tracer.events[last][0] == who, f"{who} creates {rid} without its lease"
        assert (who, "looked_up", rid) in self.tracer.events[last:], (
            f"{who} creates {rid} without a look-up newer than its claim"
        )
        return super().create(planned, on_body=on_body)


class KeepLeases(SQLiteStore):
    """A store whose process 'dies': releases never reach the file."""

    def release(self, connection: str, report_id: str, owner: str) -> None:
        return None


def _points(reports: int = 2) -> int:
    """How many step boundaries one undisturbed run passes through."""
    ledger, source = FakeLedger(), FakeSource(_reports(reports))
    seen: list[str] = []
    with _tmp_store() as store:
        _run(config(), ledger, source, store, dry_run=False, clock=Clock(), progress=None,
             on_step=lambda step, rid: seen.append(step))  # fmt: skip
    return len(seen)


class _tmp_store:
    def __enter__(self) -> SQLiteStore:
        import tempfile

        self.dir = tempfile.TemporaryDirectory()
        self.store = SQLiteStore(Path(self.dir.name) / "s.sqlite3")
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.store.close()
        self.dir.cleanup()


def _reports(n: int) -> list[Any]:
    # R0 has a card part (two documents: bill + journal); the others one bill.
    return [report(f"R{i}", card=i == 0) for i in range(n)]


POINTS = _points()


def _interleave(
    tmp_path: Path, a_at: int, b_at: int | None, lapse: bool, b_keeps_leases: bool,
    b_loses_answer: bool, concurrency: int = 1,
) -> None:  # fmt: skip
    tracer = Tracer()
    ledger = CheckedLedger(tracer)
    source = FakeSource(_reports(2))
    clock = Clock()
    name = f"s-{a_at}-{b_at}-{lapse}-{b_keeps_leases}-{b_loses_answer}-{concurrency}"
    path = tmp_path / f"{name}.sqlite3"
    store_a = SQLiteStore(path)
    count = {"a": 0, "b": 0}
    counting = threading.Lock()
    parking = Parking()
    cfg = config(posting_concurrency=concurrency)

    def run_b() -> None:
        if lapse:
            clock.now += timedelta(seconds=601)  # A's leases have run out
        if b_loses_answer:
            ledger.faults = ["drop"]
        store_b = (KeepLeases if b_keeps_leases else SQLiteStore)(path)

        def b_step(step: str, rid: str) -> None:
            with counting:
                count["b"] += 1
                stop = b_at is not None and count["b"] == b_at + 1
            if stop:
                raise Crash("B stops here")

        tracer.active.append("B")
        try:
            _run(cfg, ledger, source, store_b, dry_run=False, clock=clock, progress=None,
                 on_step=tracer.hook("B", b_step))  # fmt: skip
        except Crash:
            pass
        finally:
            tracer.active.pop()
            ledger.faults = []
            store_b.close()

    def a_step(step: str, rid: str) -> None:
        with counting:
            count["a"] += 1
            now = count["a"] == a_at + 1
        if now:
            with parking.stopped():  # A's other workers wait at their step boundaries
                run_b()

    tracer.active.append("A")
    _run(cfg, ledger, source, store_a, dry_run=False, clock=clock, progress=parking.progress,
         on_step=parking.hook(tracer.hook("A", a_step)))  # fmt: skip
    tracer.active.pop()
    assert count["a"] > a_at  # B really ran at this point of A

    # A later run (leases of a dead B long gone) finishes whatever is left.
    clock.now += timedelta(hours=1)
    tracer.active.append("C")
    final: SyncResult = _run(cfg, ledger, source, store_a, dry_run=False, clock=clock,
                             progress=None, on_step=tracer.hook("C", _nothing))  # fmt: skip
    tracer.active.pop()
    assert final.errors == ()
    assert ledger.keys() == ["EXB-R0", "EXB-R0-C", "EXB-R1"]  # exactly one per key
    assert source.labelled() == {"R0", "R1"}
    store_a.close()


@pytest.mark.parametrize("concurrency", CONCURRENCIES, ids=lambda n: f"threads-{n}")
@pytest.mark.parametrize("lapse", [False, True], ids=["lease-held", "lease-lapsed"])
@pytest.mark.parametrize("a_at", range(POINTS))
def test_b_runs_at_every_point_of_a(
    tmp_path: Path, a_at: int, lapse: bool, concurrency: int
) -> None:
    assert POINTS >= 10  # claims, look-ups, intents, creates, records, posts of 2 reports
    for b_at in [None, *range(POINTS)]:
        _interleave(tmp_path, a_at, b_at, lapse, b_keeps_leases=False, b_loses_answer=False,
                    concurrency=concurrency)  # fmt: skip


@pytest.mark.parametrize("concurrency", CONCURRENCIES, ids=lambda n: f"threads-{n}")
@pytest.mark.parametrize("a_at", range(POINTS))
def test_b_loses_a_create_answer_or_dies_holding_leases(
    tmp_path: Path, a_at: int, concurrency: int
) -> None:
    for b_at in [None, *range(0, POINTS, 2)]:
        _interleave(tmp_path, a_at, b_at, True, b_keeps_leases=True, b_loses_answer=False,
                    concurrency=concurrency)  # fmt: skip
        _interleave(tmp_path, a_at, b_at, True, b_keeps_leases=False, b_loses_answer=True,
                    concurrency=concurrency)  # fmt: skip
