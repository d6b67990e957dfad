"""The SQLite store's switch to WAL is retried (tenacity) only while the file is locked."""

from __future__ import annotations

import sqlite3

import pytest

from expense_bridge._store import _db


class FlakyConnection:
    """A DB-API connection whose ``PRAGMA journal_mode=WAL`` fails ``failures`` times."""

    def __init__(self, failures: int, message: str = "database is locked") -> None:
        self.failures = failures
        self.message = message
        self.calls = 0

    def execute(self, sql: str) -> None:
        assert sql == "PRAGMA journal_mode=WAL"
        self.calls += 1
        if self.calls <= self.failures:
            raise sqlite3.OperationalError(self.message)


def switch(conn: FlakyConnection, sleeps: list[float]) -> None:
    for attempt in _db._wal_retrying().copy(sleep=sleeps.append):
        with attempt:
            conn.execute("PRAGMA journal_mode=WAL")


def test_locked_file_is_retried_until_the_switch_succeeds() -> None:
    conn, sleeps = FlakyConnection(failures=3), []
    switch(conn, sleeps)
    assert conn.calls == 4
    assert sleeps == [0.02, 0.02, 0.02]


def test_other_errors_are_raised_at_once() -> None:
    conn, sleeps = FlakyConnection(failures=1, message="disk I/O error"), []
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        switch(conn, sleeps)
    assert conn.calls == 1
    assert sleeps == []


def test_a_lock_that_never_clears_raises_the_last_error_after_100_tries() -> None:
    conn, sleeps = FlakyConnection(failures=1000), []
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        switch(conn, sleeps)
    assert conn.calls == 100
    assert len(sleeps) == 99


def test_a_new_file_opens_in_wal_mode(tmp_path) -> None:
    store = _db.SQLiteStore(tmp_path / "state.sqlite3")
    try:
        store.upgrade()
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "state.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
