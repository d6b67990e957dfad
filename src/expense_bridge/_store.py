"""The state store: per-report ledger, bookmarks, runs and the append-only audit trail.

:class:`StateStore` is the protocol; :class:`SQLiteStore` the default backend (a file
under the user's data directory, or any path; ``":memory:"`` for tests). Every method is
one transaction. Claims use ``BEGIN IMMEDIATE`` so two workers sharing a store never
both own a report: a claim is a lease (owner + expiry) that a crashed worker's
successor can take over once it lapses.

Per-report state machine (see :class:`ReportStatus`)::

    PULLED -> PLANNED -> POSTING -> POSTED -> ACKNOWLEDGED
         \\         \\          \\
          +---------+----------+--> HELD (with error codes; replay or a new sync retries)

The audit trail never holds secrets: only report IDs, steps, outcomes, document numbers,
error codes and digests of requests/responses.
"""

from __future__ import annotations

import enum
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import attrs
import cattrs

from expensify_client import Report

__all__ = [
    "AuditEntry",
    "DocumentRecord",
    "ReportRecord",
    "ReportStatus",
    "SQLiteStore",
    "StateStore",
    "default_state_path",
    "report_from_json",
    "report_to_json",
]


class ReportStatus(enum.Enum):
    """Where a report is in the bridge's state machine."""

    PULLED = "pulled"
    PLANNED = "planned"
    POSTING = "posting"  # intent recorded; the ERP write may or may not have happened
    POSTED = "posted"  # every document exists in Acumatica
    ACKNOWLEDGED = "acknowledged"  # marked exported in Expensify
    HELD = "held"  # needs a person: error codes say why

    @property
    def terminal(self) -> bool:
        """Whether a sync can advance its bookmark past a report in this state."""
        return self in (ReportStatus.ACKNOWLEDGED, ReportStatus.HELD)


@attrs.frozen(kw_only=True)
class DocumentRecord:
    """One Acumatica document created (or adopted) for a report."""

    key: str
    kind: str  # "bill" | "journal"
    number: str  # "Bill 000123" / "GL 000045"
    part: str


@attrs.frozen(kw_only=True)
class ReportRecord:
    """The store's row for one report."""

    report_id: str
    status: ReportStatus
    fingerprint: str | None
    snapshot: str | None  # the report as exported (JSON), for replay
    error_codes: tuple[str, ...] = ()
    errors: tuple[dict[str, Any], ...] = ()
    documents: tuple[DocumentRecord, ...] = ()
    updated_at: datetime | None = None

    def report(self) -> Report | None:
        """The stored export snapshot as a :class:`Report`."""
        return report_from_json(self.snapshot) if self.snapshot else None


@attrs.frozen(kw_only=True)
class AuditEntry:
    """One line of the append-only audit trail."""

    at: datetime
    run_id: str
    report_id: str
    step: str
    outcome: str
    document: str | None = None
    error_code: str | None = None
    detail: str | None = None
    digest: str | None = None


class StateStore(Protocol):
    """What the bridge needs from a state backend (SQLite by default)."""

    def claim(self, connection: str, report_id: str, owner: str, now: datetime,
              lease_seconds: float) -> bool: ...  # fmt: skip
    def release(self, connection: str, report_id: str, owner: str) -> None: ...
    def get(self, connection: str, report_id: str) -> ReportRecord | None: ...
    def save_snapshot(self, connection: str, report: Report, fingerprint: str,
                      now: datetime) -> None: ...  # fmt: skip
    def set_status(self, connection: str, report_id: str, status: ReportStatus, now: datetime,
                   problems: Sequence[dict[str, Any]] = ()) -> None: ...  # fmt: skip
    def add_document(self, connection: str, report_id: str, document: DocumentRecord,
                     now: datetime) -> None: ...  # fmt: skip
    def with_status(self, connection: str, *statuses: ReportStatus) -> list[ReportRecord]: ...
    def bookmark(self, connection: str) -> datetime | None: ...
    def set_bookmark(self, connection: str, value: datetime) -> None: ...
    def audit(self, entry: AuditEntry, connection: str) -> None: ...
    def audit_trail(self, report_id: str, connection: str | None = None) -> list[AuditEntry]: ...
    def record_run(self, connection: str, run_id: str, started: datetime, finished: datetime,
                   summary: dict[str, Any]) -> None: ...  # fmt: skip
    def runs(self, connection: str, limit: int = 10) -> list[dict[str, Any]]: ...


# --------------------------------------------------------------------------- snapshots


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    converter.register_unstructure_hook(datetime, lambda d: d.isoformat())
    converter.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(Decimal, lambda v, _: Decimal(v))
    from datetime import date

    converter.register_unstructure_hook(date, lambda d: d.isoformat())
    converter.register_structure_hook(date, lambda v, _: date.fromisoformat(v))
    return converter


_SNAPSHOTS = _converter()


def report_to_json(report: Report) -> str:
    """A report as canonical JSON (exact: Decimal and tz-aware datetimes as strings)."""
    return json.dumps(_SNAPSHOTS.unstructure(report), sort_keys=True, ensure_ascii=False)


def report_from_json(text: str) -> Report:
    """The inverse of :func:`report_to_json`."""
    return _SNAPSHOTS.structure(json.loads(text), Report)


def default_state_path() -> Path:
    """``<user data dir>/expense-bridge/state.sqlite3`` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("expense-bridge")) / "state.sqlite3"


# --------------------------------------------------------------------------- SQLite

_SCHEMA = """
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


class SQLiteStore:
    """The default :class:`StateStore`: one SQLite file (WAL), safe across processes.

    ``path=None`` uses :func:`default_state_path`. The file is opened lazily on first use
    (constructors do no I/O). One connection per thread.
    """

    def __init__(self, path: Path | str | None = None, *, timeout: float = 30.0) -> None:
        self.path = str(path) if path is not None else None
        self._timeout = timeout
        self._local = threading.local()
        self._memory: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def _db(self) -> sqlite3.Connection:
        path = self.path if self.path is not None else str(default_state_path())
        if path == ":memory:":
            with self._lock:
                if self._memory is None:
                    self._memory = self._open(path)
                return self._memory
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            db = self._open(path)
            self._local.db = db
        return db

    def _open(self, path: str) -> sqlite3.Connection:
        db = sqlite3.connect(
            path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
        # Switching to WAL and creating the schema need a lock the busy handler does not
        # always wait for when two processes open a new file at once: retry briefly.
        for attempt in range(100):
            try:
                if path != ":memory:":
                    db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.02)
        return db

    @contextmanager
    def _tx(self, immediate: bool = True) -> Iterator[sqlite3.Connection]:
        with self._lock if self.path == ":memory:" else _nolock():
            db = self._db()
            # Writers take the write lock up front: a deferred transaction that upgrades
            # to a write can fail at once with "database is locked" under WAL.
            db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
        if self._memory is not None:
            self._memory.close()
            self._memory = None

    # ------------------------------------------------------------------ reports

    def claim(
        self, connection: str, report_id: str, owner: str, now: datetime, lease_seconds: float
    ) -> bool:
        """Take the lease on a report unless another live owner holds it."""
        until = now.timestamp() + lease_seconds
        with self._tx() as db:
            row = db.execute(
                "SELECT claim_owner, claim_until FROM reports WHERE connection=? AND report_id=?",
                (connection, report_id),
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO reports (connection, report_id, status, claim_owner, "
                    "claim_until, updated_at) VALUES (?,?,?,?,?,?)",
                    (connection, report_id, ReportStatus.PULLED.value, owner, str(until),
                     now.isoformat()),
                )  # fmt: skip
                return True
            holder, expiry = row["claim_owner"], row["claim_until"]
            if (
                holder not in (None, owner)
                and expiry is not None
                and float(expiry) > now.timestamp()
            ):
                return False
            db.execute(
                "UPDATE reports SET claim_owner=?, claim_until=? "
                "WHERE connection=? AND report_id=?",
                (owner, str(until), connection, report_id),
            )
            return True

    def release(self, connection: str, report_id: str, owner: str) -> None:
        """Give the lease back (no-op if another owner took it over)."""
        with self._tx(immediate=False) as db:
            db.execute(
                "UPDATE reports SET claim_owner=NULL, claim_until=NULL "
                "WHERE connection=? AND report_id=? AND claim_owner=?",
                (connection, report_id, owner),
            )

    def get(self, connection: str, report_id: str) -> ReportRecord | None:
        """The report's row with its documents."""
        with self._tx(immediate=False) as db:
            row = db.execute(
                "SELECT * FROM reports WHERE connection=? AND report_id=?", (connection, report_id)
            ).fetchone()
            if row is None:
                return None
            docs = db.execute(
                "SELECT key, kind, number, part FROM documents WHERE connection=? AND report_id=? "
                "ORDER BY key",
                (connection, report_id),
            ).fetchall()
        return _record(row, docs)

    def save_snapshot(
        self, connection: str, report: Report, fingerprint: str, now: datetime
    ) -> None:
        """Keep the export snapshot (and fingerprint) of a report not yet posted."""
        with self._tx(immediate=False) as db:
            db.execute(
                "INSERT INTO reports (connection, report_id, status, fingerprint, snapshot, "
                "updated_at) VALUES (?,?,?,?,?,?) ON CONFLICT (connection, report_id) DO UPDATE "
                "SET snapshot=excluded.snapshot, fingerprint=excluded.fingerprint, "
                "updated_at=excluded.updated_at",
                (connection, report.report_id, ReportStatus.PULLED.value, fingerprint,
                 report_to_json(report), now.isoformat()),
            )  # fmt: skip

    def set_status(
        self,
        connection: str,
        report_id: str,
        status: ReportStatus,
        now: datetime,
        problems: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Move a report to ``status`` (``problems``: the reasons a report is held)."""
        with self._tx(immediate=False) as db:
            cursor = db.execute(
                "UPDATE reports SET status=?, errors=?, updated_at=? "
                "WHERE connection=? AND report_id=?",
                (status.value, json.dumps(list(problems)), now.isoformat(), connection, report_id),
            )
            if cursor.rowcount == 0:
                db.execute(
                    "INSERT INTO reports (connection, report_id, status, errors, updated_at) "
                    "VALUES (?,?,?,?,?)",
                    (connection, report_id, status.value, json.dumps(list(problems)),
                     now.isoformat()),
                )  # fmt: skip

    def add_document(
        self, connection: str, report_id: str, document: DocumentRecord, now: datetime
    ) -> None:
        """Record a document number (idempotent per key)."""
        with self._tx(immediate=False) as db:
            db.execute(
                "INSERT OR REPLACE INTO documents (connection, report_id, key, kind, number, part, "
                "created_at) VALUES (?,?,?,?,?,?,?)",
                (connection, report_id, document.key, document.kind, document.number,
                 document.part, now.isoformat()),
            )  # fmt: skip

    def with_status(self, connection: str, *statuses: ReportStatus) -> list[ReportRecord]:
        """Every report of ``connection`` in one of ``statuses`` (all when none given)."""
        with self._tx() as db:
            if statuses:
                marks = ",".join("?" for _ in statuses)
                rows = db.execute(
                    f"SELECT * FROM reports WHERE connection=? AND status IN ({marks}) "  # noqa: S608
                    "ORDER BY report_id",
                    (connection, *(s.value for s in statuses)),
                ).fetchall()
            else:
                rows = db.execute(
                    "SELECT * FROM reports WHERE connection=? ORDER BY report_id", (connection,)
                ).fetchall()
            docs = db.execute(
                "SELECT report_id, key, kind, number, part FROM documents WHERE connection=?",
                (connection,),
            ).fetchall()
        by_report: dict[str, list[sqlite3.Row]] = {}
        for doc in docs:
            by_report.setdefault(doc["report_id"], []).append(doc)
        return [_record(row, by_report.get(row["report_id"], [])) for row in rows]

    # ------------------------------------------------------------------ bookmarks, runs

    def bookmark(self, connection: str) -> datetime | None:
        """The signpost of the last sync that could advance (tz-aware), if any."""
        with self._tx() as db:
            row = db.execute(
                "SELECT value FROM bookmarks WHERE connection=?", (connection,)
            ).fetchone()
        return datetime.fromisoformat(row["value"]) if row else None

    def set_bookmark(self, connection: str, value: datetime) -> None:
        """Advance the bookmark (never moves it backwards)."""
        with self._tx() as db:
            row = db.execute(
                "SELECT value FROM bookmarks WHERE connection=?", (connection,)
            ).fetchone()
            if row is not None and datetime.fromisoformat(row["value"]) >= value:
                return
            db.execute(
                "INSERT OR REPLACE INTO bookmarks (connection, value) VALUES (?,?)",
                (connection, value.isoformat()),
            )

    def record_run(
        self,
        connection: str,
        run_id: str,
        started: datetime,
        finished: datetime,
        summary: dict[str, Any],
    ) -> None:
        """Keep a sync run's summary (for ``expense-bridge status``)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO runs (run_id, connection, started, finished, summary) "
                "VALUES (?,?,?,?,?)",
                (run_id, connection, started.isoformat(), finished.isoformat(),
                 json.dumps(summary, sort_keys=True)),
            )  # fmt: skip

    def runs(self, connection: str, limit: int = 10) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT * FROM runs WHERE connection=? ORDER BY started DESC LIMIT ?",
                (connection, limit),
            ).fetchall()
        return [
            {"run_id": r["run_id"], "started": r["started"], "finished": r["finished"],
             **json.loads(r["summary"])}
            for r in rows
        ]  # fmt: skip

    # ------------------------------------------------------------------ audit

    def audit(self, entry: AuditEntry, connection: str) -> None:
        """Append one entry to the audit trail."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO audit (at, connection, run_id, report_id, step, outcome, document, "
                "error_code, detail, digest) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (entry.at.isoformat(), connection, entry.run_id, entry.report_id, entry.step,
                 entry.outcome, entry.document, entry.error_code, entry.detail, entry.digest),
            )  # fmt: skip

    def audit_trail(self, report_id: str, connection: str | None = None) -> list[AuditEntry]:
        """Every audit entry of a report, oldest first."""
        with self._tx() as db:
            query = "SELECT * FROM audit WHERE report_id=?"
            args: tuple[str, ...] = (report_id,)
            if connection is not None:
                query += " AND connection=?"
                args += (connection,)
            rows = db.execute(query + " ORDER BY id", args).fetchall()
        return [
            AuditEntry(
                at=datetime.fromisoformat(r["at"]), run_id=r["run_id"], report_id=r["report_id"],
                step=r["step"], outcome=r["outcome"], document=r["document"],
                error_code=r["error_code"], detail=r["detail"], digest=r["digest"],
            )
            for r in rows
        ]  # fmt: skip

    def summary(self, connection: str) -> dict[str, int]:
        """Number of reports per status."""
        with self._tx(immediate=False) as db:
            rows = db.execute(
                "SELECT status, COUNT(*) AS n FROM reports WHERE connection=? GROUP BY status",
                (connection,),
            ).fetchall()
        return {r["status"]: r["n"] for r in rows}


@contextmanager
def _nolock() -> Iterator[None]:
    yield


def _record(row: sqlite3.Row, docs: Sequence[sqlite3.Row]) -> ReportRecord:
    errors = tuple(json.loads(row["errors"] or "[]"))
    return ReportRecord(
        report_id=row["report_id"],
        status=ReportStatus(row["status"]),
        fingerprint=row["fingerprint"],
        snapshot=row["snapshot"],
        error_codes=tuple(str(e.get("code")) for e in errors),
        errors=errors,
        documents=tuple(
            DocumentRecord(key=d["key"], kind=d["kind"], number=d["number"], part=d["part"])
            for d in docs
        ),
        updated_at=datetime.fromisoformat(row["updated_at"]) if row["updated_at"] else None,
    )


def utcnow() -> datetime:
    """The current time in UTC (the default clock of the bridge)."""
    return datetime.now(UTC)
