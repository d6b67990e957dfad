"""The state store on SQLite and PostgreSQL: claims, leases, bookmarks, snapshots, audit.

Every behavioural test runs against both databases (``store`` is parametrised); the
PostgreSQL ones get a fresh database each (skipped without a server, failed under CI).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings

from expense_bridge import _store
from expense_bridge._store import (
    AuditEntry,
    DatabaseStore,
    DocumentRecord,
    ReportStatus,
    SQLiteStore,
    report_from_json,
    report_to_json,
)

from ..scaleout.services import postgres_database
from .fakes import NOW, expense, report
from .strategies import World, worlds

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh state database of each kind: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.sqlite3'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def store(store_url: str) -> Iterator[DatabaseStore]:
    with DatabaseStore(store_url) as s:
        yield s


def test_constructor_does_no_io_and_default_path_is_used_lazily(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "data" / "expense-bridge" / "state.sqlite3"
    monkeypatch.setattr(_store, "default_state_path", lambda: target)
    s = SQLiteStore()
    assert not target.parent.exists()
    assert s.bookmark("default") is None
    assert target.exists()
    s.close()


def test_terminal_states() -> None:
    assert {s for s in ReportStatus if s.terminal} == {
        ReportStatus.ACKNOWLEDGED,
        ReportStatus.HELD,
    }


def test_claim_is_a_lease(store: DatabaseStore) -> None:
    assert store.claim("c", "R1", "a", T0, 60)
    assert store.claim("c", "R1", "a", T0 + timedelta(seconds=1), 60)  # re-entrant
    assert not store.claim("c", "R1", "b", T0 + timedelta(seconds=59), 60)
    store.release("c", "R1", "b")  # not the owner: no effect
    assert not store.claim("c", "R1", "b", T0 + timedelta(seconds=59), 60)
    assert store.claim("c", "R1", "b", T0 + timedelta(seconds=61), 60)  # lapsed: taken over
    store.release("c", "R1", "b")
    assert store.claim("c", "R1", "a", T0 + timedelta(seconds=62), 60)
    assert store.claim("other-connection", "R1", "z", T0, 60)  # connections are separate


def test_concurrent_claims_have_exactly_one_winner(store_url: str) -> None:
    with DatabaseStore(store_url) as first:
        first.bookmark("c")  # create the schema
    start = threading.Barrier(8)
    wins: list[str] = []

    def worker(owner: str) -> None:
        s = DatabaseStore(store_url)
        start.wait(timeout=30)
        for n in range(20):
            if s.claim("c", f"R{n}", owner, T0, 600):
                wins.append(f"R{n}")
        s.close()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == sorted(f"R{n}" for n in range(20))  # one owner per report


def test_status_documents_and_snapshot(store: DatabaseStore) -> None:
    r = report("R1", card=True)
    store.save_snapshot("c", r, "fp1", T0)
    store.set_status("c", "R1", ReportStatus.POSTING, T0)
    doc = DocumentRecord(key="EXB-R1", kind="bill", number="Bill 000001", part="reimbursable")
    store.add_document("c", "R1", doc, T0)
    store.add_document("c", "R1", doc, T0)  # idempotent per key
    store.set_status("c", "R1", ReportStatus.POSTED, T0 + timedelta(seconds=1))
    record = store.get("c", "R1")
    assert record is not None
    assert record.status is ReportStatus.POSTED
    assert record.fingerprint == "fp1"
    assert record.documents == (doc,)
    assert record.report() == r
    assert record.updated_at == T0 + timedelta(seconds=1)
    assert [x.report_id for x in store.with_status("c", ReportStatus.POSTED)] == ["R1"]
    assert store.with_status("c", ReportStatus.HELD) == []
    assert store.get("other", "R1") is None


def test_held_problems_are_kept(store: DatabaseStore) -> None:
    problems = [{"code": "EB-CATEGORY-UNKNOWN", "field": "expenses[0].category",
                 "message": "m", "fix": "f", "transaction_id": "R1-1"}]  # fmt: skip
    store.set_status("c", "R1", ReportStatus.HELD, T0, problems)
    record = store.get("c", "R1")
    assert record is not None
    assert record.error_codes == ("EB-CATEGORY-UNKNOWN",)
    assert record.errors == tuple(problems)
    store.set_status("c", "R1", ReportStatus.POSTED, T0)
    assert store.get("c", "R1").error_codes == ()  # type: ignore[union-attr]


def test_bookmark_never_moves_backwards(store: DatabaseStore) -> None:
    assert store.bookmark("c") is None
    store.set_bookmark("c", T0)
    store.set_bookmark("c", T0 - timedelta(days=1))
    assert store.bookmark("c") == T0
    store.set_bookmark("c", T0 + timedelta(hours=1))
    value = store.bookmark("c")
    assert value == T0 + timedelta(hours=1)
    assert value is not None
    assert value.tzinfo is not None
    assert store.bookmark("other") is None


def test_audit_trail_is_append_only(store: DatabaseStore) -> None:
    entry = AuditEntry(
        at=T0,
        run_id="run1",
        report_id="R1",
        step="create",
        outcome="created",
        document="Bill 000001",
        detail="EXB-R1",
        digest="ab12",
    )
    store.audit(entry, "c")
    store.audit(AuditEntry(at=T0, run_id="run1", report_id="R2", step="plan", outcome="held"), "c")
    assert store.audit_trail("R1") == [entry]
    assert store.audit_trail("R1", "other") == []
    raw = sa.create_engine(store.url)  # past the store's code: the database refuses
    try:
        for forgery in ("UPDATE audit SET outcome='forged'", "DELETE FROM audit"):
            with raw.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="append-only"):
                conn.exec_driver_sql(forgery)
        if store.dialect == "postgresql":
            with raw.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="append-only"):
                conn.exec_driver_sql("TRUNCATE audit")
    finally:
        raw.dispose()
    assert store.audit_trail("R1") == [entry]


def test_runs_newest_first(store: DatabaseStore) -> None:
    store.record_run("c", "a", T0, T0 + timedelta(seconds=5), {"pulled": 1})
    store.record_run("c", "b", T0 + timedelta(hours=1), T0 + timedelta(hours=1), {"pulled": 2})
    assert [(r["run_id"], r["pulled"]) for r in store.runs("c")] == [("b", 2), ("a", 1)]
    assert store.runs("c", limit=1)[0]["run_id"] == "b"


def test_memory_store_is_shared_between_threads() -> None:
    s = SQLiteStore(":memory:")
    s.set_bookmark("c", T0)
    seen: list[datetime | None] = []
    t = threading.Thread(target=lambda: seen.append(s.bookmark("c")))
    t.start()
    t.join()
    assert seen == [T0]
    s.close()


def test_snapshot_keeps_exact_amounts_and_zones() -> None:
    r = report("R1", expense("R1-1", -12345, tax_rate=None), approved=NOW)
    assert report_from_json(report_to_json(r)) == r


@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds())
def test_snapshot_round_trip(world: World) -> None:
    r = world.report
    assert report_from_json(report_to_json(r)) == r
    assert report_to_json(report_from_json(report_to_json(r))) == report_to_json(r)
