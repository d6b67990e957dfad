"""The state store's schema: migrations, versions, typed errors, leases and heartbeats.

Run against SQLite and PostgreSQL (fresh database per test) like ``test_store``.
"""

from __future__ import annotations

import ctypes
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from expense_bridge._store import (
    DatabaseStore,
    DocumentRecord,
    LeaseBusyError,
    ReportStatus,
    SQLiteStore,
    StateCorruptError,
    StateSchemaError,
    StateStoreError,
    StateUnavailableError,
    database_url,
    schema_head,
    schema_version,
    upgrade_database,
    utcnow,
)
from expense_bridge._store._schema import METADATA, VERSION_TABLE

from ..scaleout.services import postgres_database, terminate_connections
from .fakes import report

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

#: The schema script of the first release (no version table): its files must upgrade.
FIRST_RELEASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    connection TEXT NOT NULL, report_id TEXT NOT NULL, status TEXT NOT NULL,
    fingerprint TEXT, snapshot TEXT, errors TEXT NOT NULL DEFAULT '[]',
    claim_owner TEXT, claim_until TEXT, updated_at TEXT NOT NULL,
    PRIMARY KEY (connection, report_id));
CREATE TABLE IF NOT EXISTS documents (
    connection TEXT NOT NULL, report_id TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL,
    number TEXT NOT NULL, part TEXT NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (connection, key));
CREATE TABLE IF NOT EXISTS bookmarks (
    connection TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, connection TEXT NOT NULL, started TEXT NOT NULL,
    finished TEXT NOT NULL, summary TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, connection TEXT NOT NULL,
    run_id TEXT NOT NULL, report_id TEXT NOT NULL, step TEXT NOT NULL, outcome TEXT NOT NULL,
    document TEXT, error_code TEXT, detail TEXT, digest TEXT);
CREATE INDEX IF NOT EXISTS audit_report ON audit (report_id, id);
CREATE TRIGGER IF NOT EXISTS audit_append_only BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.sqlite3'}"
    else:
        with postgres_database() as url:
            yield url


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(database_url(url))
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- migrations


def test_fresh_database_is_migrated_to_head_and_second_run_changes_nothing(
    store_url: str,
) -> None:
    assert schema_version(store_url) is None
    before, after = upgrade_database(store_url)
    assert (before, after) == (None, schema_head())
    assert schema_version(store_url) == schema_head()
    assert {t.name for t in METADATA.sorted_tables} | {VERSION_TABLE} <= _tables(store_url)
    assert upgrade_database(store_url) == (schema_head(), schema_head())  # nothing to do


def test_migrated_schema_matches_the_table_definitions(store_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    upgrade_database(store_url)
    engine = sa.create_engine(database_url(store_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            diffs = compare_metadata(context, METADATA)
    finally:
        engine.dispose()
    # Only differences of type spelling are tolerated (none expected): tables, columns and
    # indexes created by the migrations are exactly those the store queries.
    assert diffs == []


def test_store_migrates_on_first_use(store_url: str) -> None:
    with DatabaseStore(store_url) as store:
        assert store.bookmark("c") is None
        assert store.schema_version() == schema_head()


def test_first_release_state_file_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(FIRST_RELEASE_SCHEMA)
        old.execute(
            "INSERT INTO reports (connection, report_id, status, errors, updated_at) "
            "VALUES ('c', 'R1', 'posted', '[]', ?)",
            (T0.isoformat(),),
        )
        old.execute(
            "INSERT INTO documents VALUES ('c', 'R1', 'EXB-R1', 'bill', 'Bill 000001', "
            "'reimbursable', ?)",
            (T0.isoformat(),),
        )
        old.execute("INSERT INTO bookmarks VALUES ('c', ?)", (T0.isoformat(),))
        old.execute(
            "INSERT INTO audit (at, connection, run_id, report_id, step, outcome) "
            "VALUES (?, 'c', 'run0', 'R1', 'create', 'created')",
            (T0.isoformat(),),
        )
    old.close()
    assert schema_version(path) is None
    assert upgrade_database(path) == ("0001", schema_head())
    with SQLiteStore(path) as store:
        record = store.get("c", "R1")
        assert record is not None
        assert record.status is ReportStatus.POSTED
        assert [d.number for d in record.documents] == ["Bill 000001"]
        assert store.bookmark("c") == T0
        assert [e.step for e in store.audit_trail("R1")] == ["create"]
        assert store.acquire_lease("c", "run", "w1", T0, 60)  # a table of the new release
    assert upgrade_database(path) == (schema_head(), schema_head())
    with sqlite3.connect(path) as raw, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM audit")


def test_first_release_file_upgrades_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(FIRST_RELEASE_SCHEMA)
    old.close()
    with SQLiteStore(path) as store:
        store.set_status("c", "R1", ReportStatus.HELD, T0)
        assert store.schema_version() == schema_head()


def test_newer_schema_is_refused_naming_the_file_and_version(store_url: str) -> None:
    upgrade_database(store_url)
    engine = sa.create_engine(database_url(store_url))
    with engine.begin() as conn:
        conn.execute(
            sa.update(sa.table(VERSION_TABLE, sa.column("version_num"))).values(version_num="0999")
        )
    engine.dispose()
    where = DatabaseStore(store_url).location
    for attempt in (
        lambda: DatabaseStore(store_url).bookmark("c"),
        lambda: upgrade_database(store_url),
    ):
        with pytest.raises(StateSchemaError) as caught:
            attempt()
        assert "0999" in str(caught.value)
        assert where in str(caught.value)
        assert caught.value.version == "0999"
        assert caught.value.location == where


def test_postgres_url_without_driver_uses_psycopg() -> None:
    url = database_url("postgresql://eb@db.example:5432/state")
    assert url.drivername == "postgresql+psycopg"
    assert database_url("postgres://eb@db/state").drivername == "postgresql+psycopg"
    assert database_url("sqlite:///x.sqlite3").get_backend_name() == "sqlite"
    assert database_url(Path("a/b.sqlite3")).database == "a/b.sqlite3"
    with pytest.raises(StateStoreError, match="unsupported database 'mysql'"):
        database_url("mysql://u@h/db")


def test_password_never_appears_in_repr_or_errors() -> None:
    store = DatabaseStore("postgresql://eb:hunter2@127.0.0.1:1/state", timeout=1)
    assert "hunter2" not in repr(store)
    with pytest.raises(StateUnavailableError) as caught:
        store.bookmark("c")
    assert "hunter2" not in str(caught.value)
    assert "127.0.0.1:1/state" in str(caught.value)
    assert caught.value.retryable


# --------------------------------------------------------------------------- bad state files


def test_corrupted_state_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"this is not a database, it is a text file " * 200)
    with pytest.raises(StateCorruptError) as caught:
        SQLiteStore(path).bookmark("c")
    assert str(path) in str(caught.value)
    assert caught.value.location == str(path)


def test_state_directory_that_cannot_be_created_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the state directory should be")
    path = blocker / "state.sqlite3"
    with pytest.raises(StateUnavailableError) as caught:
        SQLiteStore(path).bookmark("c")
    assert str(path) in str(caught.value)
    assert not caught.value.retryable


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


@contextmanager
def permission_bits_enforced() -> Iterator[None]:
    """Make the kernel apply file permission bits to this thread, even as root (CI).

    Root passes permission checks through CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH; this
    takes both out of the calling thread's effective capability set (capset(2), Linux
    capabilities are per thread) and puts them back afterwards. Any other user: nothing
    to do. The refusal the test then sees is the kernel's own, not a simulated one.
    """
    if os.geteuid() != 0:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    saved = data[0].effective
    data[0].effective &= ~((1 << _CAP_DAC_OVERRIDE) | (1 << _CAP_DAC_READ_SEARCH))
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")
    try:
        yield
    finally:
        data[0].effective = saved
        if libc.capset(ctypes.byref(header), data) != 0:
            raise OSError(ctypes.get_errno(), "capset (restore) failed")


def test_read_only_state_directory_names_the_file(tmp_path: Path) -> None:
    """Runs as root too (CI): the permission bits are enforced by dropping root's
    permission-check capabilities for the duration (see permission_bits_enforced)."""
    directory = tmp_path / "ro"
    directory.mkdir()
    with SQLiteStore(directory / "state.sqlite3") as store:
        store.bookmark("c")
    directory.chmod(0o500)
    (directory / "state.sqlite3").chmod(0o400)
    try:
        with permission_bits_enforced():
            # the refusal is real: nobody, root included, can create a file here now
            with pytest.raises(PermissionError):
                (directory / "probe").touch()
            store = SQLiteStore(directory / "state.sqlite3")
            try:
                with pytest.raises(StateUnavailableError) as caught:
                    store.set_bookmark("c", T0)
            finally:
                store.close()
        assert str(directory / "state.sqlite3") in str(caught.value)
    finally:
        directory.chmod(0o700)


def test_read_only_database_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    SQLiteStore(path).bookmark("c")
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    with pytest.raises(StateUnavailableError) as caught:
        DatabaseStore(url).set_bookmark("c", T0)
    assert str(path) in str(caught.value)


# --------------------------------------------------------------------------- leases


def test_named_lease_is_exclusive_until_it_lapses(store_url: str) -> None:
    with DatabaseStore(store_url) as store:
        assert store.acquire_lease("t1", "run", "a", T0, 60)
        assert store.acquire_lease("t1", "run", "a", T0 + timedelta(seconds=5), 60)  # re-entrant
        assert not store.acquire_lease("t1", "run", "b", T0 + timedelta(seconds=30), 60)
        assert store.acquire_lease("t2", "run", "b", T0, 60)  # tenants are separate
        assert store.lease_holder("t1", "run", T0 + timedelta(seconds=30)) == "a"
        assert store.acquire_lease("t1", "run", "b", T0 + timedelta(seconds=66), 60)  # lapsed
        assert not store.renew_lease("t1", "run", "a", T0 + timedelta(seconds=67), 60)
        store.release_lease("t1", "run", "a")  # not the holder: no effect
        assert store.lease_holder("t1", "run", T0 + timedelta(seconds=70)) == "b"
        store.release_lease("t1", "run", "b")
        assert store.lease_holder("t1", "run", T0 + timedelta(seconds=70)) is None


def test_run_lease_skips_or_waits(store_url: str) -> None:
    with DatabaseStore(store_url) as first, DatabaseStore(store_url) as second:
        with first.run_lease("t1", "worker-1", lease_seconds=30):
            busy = second.run_lease("t1", "worker-2", lease_seconds=30, wait=0)
            with pytest.raises(LeaseBusyError) as caught:
                busy.__enter__()
            assert caught.value.holder == "worker-1"
            assert caught.value.retryable
            with second.run_lease("t2", "worker-2", lease_seconds=30):  # another tenant
                pass
        released = threading.Event()

        def hold_briefly() -> None:
            with first.run_lease("t1", "worker-1", lease_seconds=30):
                released.wait(timeout=10)
                time.sleep(0.3)

        holder = threading.Thread(target=hold_briefly)
        holder.start()
        while first.lease_holder("t1", "run", utcnow()) != "worker-1":
            time.sleep(0.02)
        released.set()
        with second.run_lease("t1", "worker-2", lease_seconds=30, wait=20, poll=0.05):
            assert second.lease_holder("t1", "run", utcnow()) == "worker-2"
        holder.join()


def test_heartbeat_keeps_short_leases_alive_and_they_lapse_without_it(store_url: str) -> None:
    with (
        DatabaseStore(store_url, heartbeat=True, claim_lease=0.9) as live,
        DatabaseStore(store_url) as other,
    ):
        assert live.claim("c", "R1", "live", utcnow(), 600)  # the store's short lease wins
        with live.run_lease("c", "live", lease_seconds=0.9) as lease:
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:  # three full lease periods
                assert not other.claim("c", "R1", "other", utcnow(), 60)
                assert not other.acquire_lease("c", "run", "other", utcnow(), 60)
                time.sleep(0.1)
            assert not lease.lost.is_set()
        live.release("c", "R1", "live")
        assert other.claim("c", "R1", "other", utcnow(), 60)
        # Without heartbeat, a claim made by a "killed" holder lapses on its own.
        assert other.claim("c", "R2", "killed", utcnow(), 0.5)
        time.sleep(0.6)
        assert other.claim("c", "R2", "successor", utcnow(), 60)


def test_lost_run_lease_is_reported_to_its_holder(store_url: str) -> None:
    with (
        DatabaseStore(store_url) as store,
        store.run_lease("c", "slow", lease_seconds=0.6) as lease,
    ):
        # Someone takes the lease over (as after a lapse): the next renewal notices.
        engine = sa.create_engine(database_url(store_url))
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE leases SET owner = 'thief'"))
        engine.dispose()
        assert lease.lost.wait(timeout=5)


# --------------------------------------------------------------------------- durability


def test_posting_transitions_survive_a_new_store(store_url: str) -> None:
    with DatabaseStore(store_url) as store:
        store.save_snapshot("c", report("R1"), "fp", T0)
        store.set_status("c", "R1", ReportStatus.POSTING, T0)
        doc = DocumentRecord(key="K1", kind="bill", number="Bill 1", part="reimbursable")
        store.add_document("c", "R1", doc, T0)
    with DatabaseStore(store_url) as reopened:
        record = reopened.get("c", "R1")
        assert record is not None
        assert record.status is ReportStatus.POSTING
        assert record.documents == (doc,)
        assert record.fingerprint == "fp"


def test_postgres_connection_cut_fails_cleanly_then_recovers() -> None:
    with postgres_database() as url, DatabaseStore(url) as store:
        store.set_bookmark("c", T0)
        assert terminate_connections(url) >= 1
        # A connection in steady use is not pinged: the next transaction fails cleanly
        # (typed, retryable, naming the database), the one after reconnects.
        with pytest.raises(StateUnavailableError) as first:
            store.bookmark("c")
        assert first.value.retryable
        assert store.bookmark("c") == T0

        def cut_mid_transaction() -> None:
            with store._tx() as conn:  # a transaction in flight when the server goes away
                terminate_connections(url)
                conn.execute(sa.text("SELECT 1"))

        with pytest.raises(StateUnavailableError) as caught:
            cut_mid_transaction()
        assert caught.value.retryable
        assert "eb_test_" in str(caught.value)
        store.set_bookmark("c", T0 + timedelta(hours=1))
        assert store.bookmark("c") == T0 + timedelta(hours=1)
