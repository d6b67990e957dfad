"""One state store over SQLite and PostgreSQL (SQLAlchemy Core 2.x, Alembic migrations).

:class:`DatabaseStore` implements :class:`~expense_bridge._store.StateStore` with a single
code path for both databases, chosen by URL (``sqlite:///state.sqlite3``, or a plain
``postgresql://user@host/db`` which is mapped to the psycopg 3 driver). The only dialect
switches are the upsert constructor, how a write transaction starts (SQLite: ``BEGIN
IMMEDIATE``; PostgreSQL: ``SELECT … FOR UPDATE`` row locks) and how durability is chosen
per transaction (below).

Schema. The schema is versioned with Alembic (version table ``expense_bridge_schema``).
On first use the store brings the database to this release's head under a lock (SQLite's
write lock; a PostgreSQL advisory lock), stamping a state file of the first release
(tables but no version) as revision ``0001`` first, so it upgrades in place. A database
whose version this release does not know (written by a newer release) is refused with
:class:`StateSchemaError` naming the file and the version; a file that is not a database
raises :class:`StateCorruptError`, one that cannot be written :class:`StateUnavailableError`.

Leases. A report claim is a lease (owner + expiry) taken under a row lock; a crashed
worker's successor takes it over once it lapses. With ``heartbeat=True`` a daemon thread
renews every claim and named lease this process holds at a third of its duration, so
leases can be short (``claim_lease`` seconds, default 90) and still never lapse under a
live worker; a killed worker stops renewing and its successor takes over within one lease.
:meth:`DatabaseStore.run_lease` is the per-tenant run lease (one sync per tenant at a time;
a second worker skips or waits).

Durability and batching (issue 14). Every lookup is indexed (``documents (connection,
report_id)``, ``reports (connection, status)``, ``runs (connection, started)``, ``audit
(report_id, id)``) and sorted in Python where an ``ORDER BY`` would lead SQLite to scan
the primary key instead. Writes are grouped into *units of work* (per thread:
:meth:`DatabaseStore.batched`): inside one, writes that need not be durable on their own -- audit
lines, snapshots, statuses other than POSTING, claim releases, bookmarks, runs -- are
queued and committed together, in order, with the next transaction the thread opens (a
read, a claim, a durable write) or at the end of the unit. Only the two transitions
exactly-once depends on are never queued and are committed durably at once, with
everything queued before them --

* the intent (``set_status(POSTING)``), which must be on disk before the ERP write, and
* the document number (``add_document``), which must be on disk as soon as it is known.

Everything else commits without waiting for the disk (SQLite ``synchronous=NORMAL`` in
WAL mode; PostgreSQL ``synchronous_commit = off`` for that session). Such writes survive
a crash of the process once committed; a power loss can only drop those made after the
last durable commit, which is ordered after everything queued before it: a lost claim or
release only means a lease lapses; a lost audit line or hold is written again by the next
run; a lost POSTED or ACKNOWLEDGED leaves the report in POSTING with its documents
recorded, so the next run adopts instead of creating; a lost bookmark only re-reads
reports. So a posted report costs about six short transactions, two of them durable,
instead of about fourteen, and exactly-once keeps the same footing: intent before the
write, number after it. Hot statements are built once per store (:class:`_Statements`)
and bound at execution, so SQLAlchemy's compiled cache serves them. On a SQLite file, a
transaction of only the store's own writes (a unit's queued writes, the intent, a document
number) runs on the sqlite3 connection itself -- same statements, order, ``BEGIN
IMMEDIATE`` and ``synchronous`` level -- held for the rest of the unit of work, and a page
claim reads and takes up to 500 claims in a few statements (:meth:`DatabaseStore.claim_many`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import tenacity
from sqlalchemy import event
from sqlalchemy.engine import URL

from expensify_client import Report

from . import _records
from ._errors import (
    LeaseBusyError,
    StateCorruptError,
    StateSchemaError,
    StateStoreError,
    StateUnavailableError,
)
from ._records import AuditEntry, DocumentRecord, ReportRecord, ReportStatus, report_to_json
from ._schema import (
    AUDIT,
    BOOKMARKS,
    DOCUMENTS,
    LEASES,
    RATE_SENDS,
    REPORTS,
    RUNS,
    TENANTS,
    VERSION_TABLE,
)

__all__ = [
    "DatabaseStore",
    "Lease",
    "SQLiteStore",
    "database_url",
    "describe_url",
    "schema_head",
    "schema_version",
    "upgrade_database",
]

_MIGRATIONS = Path(__file__).with_name("migrations")
_DEFAULT_CLAIM_LEASE = 90.0
#: Seconds after which an idle pooled PostgreSQL connection is pinged before use.
_IDLE_PING = 10.0


# --------------------------------------------------------------------------- URLs


def database_url(url: str | Path | URL | None) -> URL:
    """The SQLAlchemy URL for a state location.

    ``None``: the SQLite file at the default path; a :class:`~pathlib.Path` or a string
    without ``://``: a SQLite file; ``postgresql://`` / ``postgres://``: PostgreSQL through
    psycopg 3; ``sqlite://…`` and ``postgresql+<driver>://…`` are taken as they are.
    """
    if url is None:
        return URL.create("sqlite", database=str(_records_default_path()))
    if isinstance(url, Path):
        return URL.create("sqlite", database=str(url))
    if isinstance(url, str) and "://" not in url:
        return URL.create("sqlite", database=url)
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StateStoreError(str(url), f"state.url {url!r} is not a database URL") from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername=f"postgresql+{driver or 'psycopg'}")
    if backend == "sqlite":
        return parsed
    raise StateStoreError(
        describe_url(parsed),
        f"state.url {describe_url(parsed)} names an unsupported database {backend!r}; "
        "use sqlite:///<file> or postgresql://user@host/db",
    )


def describe_url(url: URL) -> str:
    """How errors and logs name a database: the SQLite file, or the URL without password."""
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def _records_default_path() -> Path:
    # Looked up on the package at call time so tests can point it elsewhere.
    from . import default_state_path

    return default_state_path()


# --------------------------------------------------------------------------- schema


def _script() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(_MIGRATIONS), version_locations=[str(_MIGRATIONS / "versions")])


def schema_head() -> str:
    """The schema version this release writes (the newest migration)."""
    head = _script().get_current_head()
    assert isinstance(head, str)  # noqa: S101 - one linear history
    return head


def _current(conn: sa.Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _known_revisions() -> set[str]:
    return {rev.revision for rev in _script().walk_revisions()}


def _refuse_unknown(where: str, current: str | None) -> None:
    if current is not None and current not in _known_revisions():
        raise StateSchemaError(
            where,
            f"state store {where} has schema version {current}, newer than this release of "
            f"expense-bridge supports ({schema_head()}); upgrade expense-bridge, or point "
            "state.url at another database",
            version=current,
        )


def _migrate(conn: sa.Connection, where: str) -> tuple[str | None, str]:
    """Bring the database on ``conn`` (inside its transaction) to the head revision."""
    from alembic import command
    from alembic.config import Config

    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(VERSION_TABLE))))
    before = _current(conn)
    _refuse_unknown(where, before)
    head = schema_head()
    if before == head:
        return before, head
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = conn
    if before is None and sa.inspect(conn).has_table(REPORTS.name):
        command.stamp(config, "0001")  # a state file of the first release, before versions
        before = "0001"
    command.upgrade(config, "head")
    return before, head


def upgrade_database(url: str | Path | URL | None) -> tuple[str | None, str]:
    """Migrate the state database at ``url`` to this release's schema; idempotent.

    Returns ``(version before, version after)``; the two are equal when there was
    nothing to do. A newer schema raises :class:`StateSchemaError`.
    """
    store = DatabaseStore(url, auto_upgrade=False)
    try:
        return store.upgrade()
    finally:
        store.close()


def schema_version(url: str | Path | URL | None) -> str | None:
    """The schema version of the database at ``url`` (None: empty or first release)."""
    store = DatabaseStore(url, auto_upgrade=False)
    try:
        with store._tx(write=False) as conn:
            return _current(conn)
    finally:
        store.close()


# --------------------------------------------------------------------------- errors


@contextmanager
def _translated(where: str) -> Iterator[None]:
    """Database errors as typed store errors naming the file or URL (never a password)."""
    try:
        yield
    except StateStoreError:
        raise
    except sa.exc.DBAPIError as exc:
        text = str(exc.orig) if exc.orig is not None else str(exc)
        low = text.lower()
        if "not a database" in low or "malformed" in low:
            raise StateCorruptError(
                where,
                f"state file {where} is not a valid database ({text}); restore it from a "
                "backup or move it away to start afresh",
            ) from None
        if "readonly" in low or "read-only" in low or "unable to open" in low:
            raise StateUnavailableError(
                where,
                f"state store {where} cannot be written ({text}); check the permissions of "
                "the file and its directory",
            ) from None
        if exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError):
            raise StateUnavailableError(
                where,
                f"state database {where} is unavailable ({type(exc.orig).__name__}); the "
                "next run continues where this one stopped",
                transient=True,
            ) from None
        raise
    except OSError as exc:  # the directory cannot be created (read-only, a file, …)
        raise StateUnavailableError(
            where,
            f"state store {where} cannot be created: {exc.strerror or exc}; check that its "
            "directory exists and is writable",
        ) from None


# --------------------------------------------------------------------------- store


class Lease:
    """A named lease held by this process (see :meth:`DatabaseStore.run_lease`).

    ``lost`` is set when a renewal finds the lease taken over (the holder should stop).
    """

    def __init__(self, connection: str, name: str, owner: str, seconds: float) -> None:
        self.connection = connection
        self.name = name
        self.owner = owner
        self.seconds = seconds
        self.lost = threading.Event()

    def __repr__(self) -> str:
        return f"Lease({self.connection!r}, {self.name!r}, owner={self.owner!r})"


class DatabaseStore:
    """The :class:`StateStore` on SQLite or PostgreSQL (see the module docstring).

    ``url``: a database URL, a SQLite path, or None for the default SQLite file. The
    constructor does no I/O: the engine is created and the schema checked (and, with
    ``auto_upgrade``, migrated) on first use. ``heartbeat``: renew held claims and leases
    in a background thread; ``claim_lease``: with ``heartbeat``, the claim duration used
    instead of the caller's (short, renewed). Usable as a context manager (closes).
    """

    def __init__(
        self,
        url: str | Path | URL | None = None,
        *,
        timeout: float = 30.0,
        auto_upgrade: bool = True,
        heartbeat: bool = False,
        claim_lease: float = _DEFAULT_CLAIM_LEASE,
    ) -> None:
        self._url_arg = url
        self._timeout = timeout
        self._auto_upgrade = auto_upgrade
        self._heartbeat = heartbeat
        self._claim_lease = claim_lease
        self._engine: sa.Engine | None = None
        self._pid = 0
        self._init_lock = threading.Lock()
        self._memory_lock = threading.RLock()
        self._held: dict[tuple[str, str, str], float] = {}  # (connection, report, owner)
        self._leases: dict[tuple[str, str, str], Lease] = {}
        self._held_lock = threading.Lock()
        self._beat: threading.Thread | None = None
        self._stop = threading.Event()
        # Per-thread unit of work (see batched()): each thread queues only its own writes.
        self._local = threading.local()
        # Resolved on first use (the default path is looked up then, not here).
        self._resolved: tuple[URL, str, str, bool] | None = None
        self._sql: _Statements | None = None

    # ------------------------------------------------------------------ plumbing

    def _resolve(self) -> tuple[URL, str, str, bool]:
        resolved = self._resolved
        if resolved is None:
            url = database_url(self._url_arg)
            backend = url.get_backend_name()
            memory = backend == "sqlite" and url.database in (None, "", ":memory:")
            resolved = (url, backend, describe_url(url), memory)
            self._resolved = resolved  # immutable tuple: a racing thread computes the same
        return resolved

    @property
    def url(self) -> URL:
        """The database URL (its password is never shown by :func:`describe_url`)."""
        return self._resolve()[0]

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._resolve()[1]

    @property
    def location(self) -> str:
        """The SQLite file or the password-less URL (how errors name this store)."""
        return self._resolve()[2]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    def __enter__(self) -> DatabaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the heartbeat and close every pooled connection (the store stays usable)."""
        self._stop.set()
        beat, self._beat = self._beat, None
        if beat is not None and beat is not threading.current_thread():
            beat.join(timeout=5)
        self._stop = threading.Event()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _memory(self) -> bool:
        return self._resolve()[3]

    def _create_engine(self) -> sa.Engine:
        url = self.url
        if url.get_backend_name() == "postgresql":
            pg = sa.create_engine(url, connect_args={"connect_timeout": max(1, int(self._timeout))})

            @event.listens_for(pg, "connect")
            def _pg_connect(dbapi: Any, record: Any) -> None:
                # Commits do not wait for the disk unless a transaction asks (durable=True).
                with dbapi.cursor() as cursor:
                    cursor.execute("SET synchronous_commit TO off")
                dbapi.commit()

            @event.listens_for(pg, "checkout")
            def _pg_checkout(dbapi: Any, record: Any, proxy: Any) -> None:
                # A connection idle for a while may have been cut (server restart, firewall):
                # ping it first, and let the pool replace it if dead. One in steady use is
                # not pinged (a round trip per transaction); if the server goes away under
                # it, that transaction fails (StateUnavailableError) and the next reconnects.
                now = time.monotonic()
                last = record.info.get("eb_used")
                record.info["eb_used"] = now
                if last is None or now - last < _IDLE_PING:
                    return
                try:
                    with dbapi.cursor() as cursor:
                        cursor.execute("SELECT 1")
                    dbapi.rollback()
                except Exception as exc:
                    raise sa.exc.DisconnectionError() from exc

            return pg
        if self._memory():
            engine = sa.create_engine(
                url,
                poolclass=sa.pool.StaticPool,
                connect_args={"check_same_thread": False, "timeout": self._timeout},
            )
        else:
            assert url.database is not None  # noqa: S101 - not memory
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(
                url, connect_args={"check_same_thread": False, "timeout": self._timeout}
            )
        memory = self._memory()
        busy = int(self._timeout * 1000)

        @event.listens_for(engine, "connect")
        def _connect(dbapi: Any, record: Any) -> None:
            dbapi.isolation_level = None  # transactions are begun explicitly below
            dbapi.execute(f"PRAGMA busy_timeout={busy}")
            if memory:
                return
            # Switching to WAL needs a lock the busy handler does not always wait for when
            # two processes open a new file at once: retry briefly (100 tries, 20 ms apart).
            for attempt in _wal_retrying():
                with attempt:
                    dbapi.execute("PRAGMA journal_mode=WAL")

        # No "begin" listener: a connection event makes SQLAlchemy dispatch events on every
        # statement. The transaction is begun by _open_sqlite() instead.
        return engine

    def _ready(self) -> sa.Engine:
        engine = self._engine
        if engine is not None and self._pid == os.getpid():
            return engine
        with self._init_lock:
            if self._engine is not None and self._pid != os.getpid():
                self._engine.dispose(close=False)  # a forked worker: never share sockets
                self._engine = None
            if self._engine is None:
                with _translated(self.location):
                    engine = self._create_engine()
                    try:
                        with engine.connect() as conn, conn.begin():
                            self._open(conn, write=True, durable=True)
                            if self._auto_upgrade:
                                _migrate(conn, self.location)
                            else:
                                _refuse_unknown(self.location, _current(conn))
                    except BaseException:
                        engine.dispose()
                        raise
                self._engine = engine
                self._pid = os.getpid()
            return self._engine

    def upgrade(self) -> tuple[str | None, str]:
        """Migrate this database to the head schema; ``(before, after)`` (see module doc)."""
        with self._tx(write=True, durable=True, check=False) as conn:
            return _migrate(conn, self.location)

    def schema_version(self) -> str | None:
        """This database's schema version (None before the first migration)."""
        with self._tx(write=False) as conn:
            return _current(conn)

    @contextmanager
    def _tx(
        self, *, write: bool = True, durable: bool = False, check: bool = True
    ) -> Iterator[sa.Connection]:
        """One transaction; ``durable``: wait for the disk at commit (see module doc).

        Writes this thread queued in a unit of work (:meth:`batched`) are executed first,
        in the same transaction, so every read sees them and every commit keeps their order.
        """
        pending: list[tuple[Any, dict[str, Any]]] | None = getattr(self._local, "pending", None)
        queued = bool(pending)
        with _translated(self.location):
            engine = self._ready() if check else self._bare_engine()
            with (
                self._memory_lock if self._memory() else _nolock(),
                engine.connect() as conn,
            ):
                with conn.begin():
                    self._open(conn, write=write or queued, durable=durable)
                    if queued:
                        assert pending is not None  # noqa: S101 - queued
                        done = len(pending)
                        _execute_all(conn, pending, self._statements())
                    yield conn
                if queued:  # committed: those are on their way to disk
                    assert pending is not None  # noqa: S101 - queued
                    del pending[:done]

    def _open(self, conn: sa.Connection, *, write: bool, durable: bool) -> None:
        """Begin the transaction as the module doc says: SQLite ``BEGIN IMMEDIATE`` for a
        write (``synchronous`` FULL for a durable one, NORMAL otherwise); PostgreSQL
        ``synchronous_commit`` on for a durable one."""
        if conn.dialect.name == "postgresql":
            if durable:
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO on")
            return
        level = "FULL" if durable else "NORMAL"
        info = conn.connection.info
        if not self._memory() and info.get("eb_sync") != level:
            conn.exec_driver_sql(f"PRAGMA synchronous={level}")  # outside the transaction
            info["eb_sync"] = level
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    @contextmanager
    def batched(self) -> Iterator[None]:
        """A unit of work for the calling thread (nestable; other threads are unaffected).

        Inside it, writes that need not be durable on their own -- audit lines, snapshots,
        statuses other than POSTING, claim releases, bookmarks, runs -- are queued and
        committed together, in order, with the next transaction this thread opens: the
        next durable write (the intent, a document number), the next read, a claim, or
        the end of the block (also when it ends by an exception). The two transitions
        exactly-once depends on are never queued: :meth:`set_status` to POSTING and
        :meth:`add_document` commit durably at once, with everything queued before them.
        """
        local = self._local
        depth = getattr(local, "depth", 0)
        if depth == 0:
            local.pending = []
        local.depth = depth + 1
        try:
            yield
        finally:
            local.depth = depth
            if depth == 0:
                try:
                    self.flush()
                finally:
                    local.pending = None
                    held, local.raw = getattr(local, "raw", None), None
                    if held is not None:
                        held.close()  # back to the pool

    def flush(self) -> None:
        """Commit the writes this thread queued in a unit of work (no-op when none)."""
        if getattr(self._local, "pending", None):
            if self._raw_write(None, durable=False):
                return
            with self._tx(write=True):
                pass

    def _write(self, stmt: Any, params: dict[str, Any], *, durable: bool = False) -> None:
        """Execute one write: queued inside a unit of work unless ``durable``."""
        pending: list[tuple[Any, dict[str, Any]]] | None = getattr(self._local, "pending", None)
        if pending is not None and not durable:
            pending.append((stmt, params))
            return
        if self._raw_write((stmt, params), durable=durable):
            return
        with self._tx(write=True, durable=durable) as conn:
            _execute_all(conn, [(stmt, params)], self._statements())

    def _raw_write(self, write: tuple[Any, dict[str, Any]] | None, *, durable: bool) -> bool:
        """On a SQLite file, commit this thread's queued writes and ``write`` in one
        transaction run on the sqlite3 connection itself -- the same statements, order,
        ``BEGIN IMMEDIATE`` and ``synchronous`` level as :meth:`_tx`, without SQLAlchemy's
        per-transaction work (connection checkout, ``Transaction`` objects, reset on
        return). Inside a unit of work the connection is held until the unit ends.
        False (nothing done) where this does not apply: PostgreSQL, ``:memory:``, or a
        write that is not one of the store's own (:meth:`_Statements.sqlite_sql`)."""
        local = self._local
        pending: list[tuple[Any, dict[str, Any]]] = getattr(local, "pending", None) or []
        writes = [*pending, write] if write is not None else list(pending)
        if self.dialect != "sqlite" or self._memory():
            return False
        sql = self._statements()
        if any(sql.sqlite_sql(stmt, tuple(params)) is None for stmt, params in writes):
            return False
        done = len(pending)
        with _translated(self.location):
            engine = self._ready()
            held = getattr(local, "raw", None)
            fairy = held if held is not None else engine.raw_connection()
            try:
                _raw_commit(fairy, writes, sql, durable=durable)
            finally:
                if held is None:
                    if getattr(local, "depth", 0):
                        local.raw = fairy  # kept for the rest of the unit of work
                    else:
                        fairy.close()
        del pending[:done]  # committed: those are on their way to disk
        return True

    def _bare_engine(self) -> sa.Engine:
        with self._init_lock:
            if self._engine is None or self._pid != os.getpid():
                with _translated(self.location):
                    self._engine = self._create_engine()
                self._pid = os.getpid()
            return self._engine

    def _statements(self) -> _Statements:
        sql = self._sql
        if sql is None:
            sql = self._sql = _Statements(self.dialect)  # immutable once built
        return sql

    def _insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT (it has ``on_conflict_do_nothing``/``…_do_update``)."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    # ------------------------------------------------------------------ reports

    def claim(
        self, connection: str, report_id: str, owner: str, now: datetime, lease_seconds: float
    ) -> bool:
        """Take the lease on a report unless another live owner holds it (row-locked)."""
        if self._heartbeat:
            lease_seconds = self._claim_lease
        with self._tx(write=True) as conn:
            taken = self._claim_in(conn, connection, report_id, owner, now, lease_seconds)
        if taken:
            self._hold(connection, report_id, owner, lease_seconds)
        return taken

    def claim_many(
        self,
        connection: str,
        report_ids: Sequence[str],
        owner: str,
        now: datetime,
        lease_seconds: float,
    ) -> dict[str, ReportRecord]:
        """:meth:`claim` each of ``report_ids`` and read each claimed report's record (as
        :meth:`get` would), all in one write transaction: the claimed ids, in order, with
        their records; a report another live owner holds is left out. A record read here
        stays what the store holds while the lease does (only its holder writes it)."""
        if self._heartbeat:
            lease_seconds = self._claim_lease
        ids = list(dict.fromkeys(report_ids))
        taken: dict[str, ReportRecord] = {}
        with self._tx(write=True) as conn:
            claimed: set[str] = set()
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                claimed.update(
                    self._claim_chunk(conn, connection, chunk, owner, now, lease_seconds)
                )
            records = self._records_in(conn, connection, [r for r in ids if r in claimed])
        for rid in ids:
            if rid in claimed:
                taken[rid] = records[rid]  # claimed above, in this transaction
                self._hold(connection, rid, owner, lease_seconds)
        return taken

    def _claim_chunk(
        self,
        conn: sa.Connection,
        connection: str,
        report_ids: Sequence[str],
        owner: str,
        now: datetime,
        lease_seconds: float,
    ) -> set[str]:
        """:meth:`_claim_in` for up to 500 reports in a few statements: one (row-locking)
        read of their claims, then one ``executemany`` each for the new rows and the
        claims taken. On PostgreSQL a new row is inserted one at a time (another writer
        may insert it meanwhile: :meth:`_claim_in` settles that); on SQLite the
        transaction holds the database's write lock, so none can."""
        r = REPORTS.c
        sql = self._statements()
        until = now.timestamp() + lease_seconds
        rows = conn.execute(
            sa.select(r.report_id, r.claim_owner, r.claim_until)
            .where((r.connection == connection) & r.report_id.in_(report_ids))
            .with_for_update()
        ).all()
        existing = {str(row.report_id): row for row in rows}
        claimed: set[str] = set()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        sqlite = conn.dialect.name == "sqlite"
        for rid in report_ids:
            row = existing.get(rid)
            if row is None:
                if not sqlite:
                    if self._claim_in(conn, connection, rid, owner, now, lease_seconds):
                        claimed.add(rid)
                    continue
                inserts.append(
                    {"connection": connection, "report_id": rid,
                     "status": ReportStatus.PULLED.value, "claim_owner": owner,
                     "claim_until": str(until), "updated_at": now.isoformat()}
                )  # fmt: skip
                claimed.add(rid)
                continue
            holder, expiry = row.claim_owner, row.claim_until
            if holder not in (None, owner) and expiry and float(expiry) > now.timestamp():
                continue
            updates.append(
                {"k_connection": connection, "k_report": rid, "owner": owner,
                 "until": str(until)}
            )  # fmt: skip
            claimed.add(rid)
        if inserts:
            conn.execute(sql.claim_insert, inserts)
        if updates:
            conn.execute(sql.claim_update, updates)
        return claimed

    def _records_in(
        self, conn: sa.Connection, connection: str, report_ids: Sequence[str]
    ) -> dict[str, ReportRecord]:
        """The records (with documents) of those of ``report_ids`` the store knows, read
        in ``conn``: two indexed queries per 500 reports."""
        r, d = REPORTS.c, DOCUMENTS.c
        found: dict[str, ReportRecord] = {}
        for start in range(0, len(report_ids), 500):
            chunk = report_ids[start : start + 500]
            rows = conn.execute(
                sa.select(REPORTS).where((r.connection == connection) & r.report_id.in_(chunk))
            ).all()
            docs = conn.execute(
                sa.select(d.report_id, d.key, d.kind, d.number, d.part).where(
                    (d.connection == connection) & d.report_id.in_(chunk)
                )
            ).all()
            by_report: dict[str, list[Any]] = {}
            for doc in sorted(docs, key=_by_key):
                by_report.setdefault(doc.report_id, []).append(doc)
            for row in rows:
                found[str(row.report_id)] = _record(row, by_report.get(row.report_id, []))
        return found

    def _claim_in(
        self,
        conn: sa.Connection,
        connection: str,
        report_id: str,
        owner: str,
        now: datetime,
        lease_seconds: float,
    ) -> bool:
        """The claim of one report inside the write transaction ``conn``."""
        until = now.timestamp() + lease_seconds
        sql = self._statements()
        key = {"connection": connection, "report_id": report_id}
        row = conn.execute(sql.claim_row, key).first()
        if row is None:
            inserted = conn.execute(
                sql.claim_insert,
                {
                    **key,
                    "status": ReportStatus.PULLED.value,
                    "claim_owner": owner,
                    "claim_until": str(until),
                    "updated_at": now.isoformat(),
                },
            )
            if inserted.rowcount == 1:
                return True
            row = conn.execute(sql.claim_row, key).first()
            assert row is not None  # noqa: S101 - inserted by the other writer
        holder, expiry = row.claim_owner, row.claim_until
        if holder not in (None, owner) and expiry and float(expiry) > now.timestamp():
            return False
        conn.execute(
            sql.claim_update,
            {"k_connection": connection, "k_report": report_id, "owner": owner,
             "until": str(until)},
        )  # fmt: skip
        return True

    def renew(
        self, connection: str, report_id: str, owner: str, now: datetime, lease_seconds: float
    ) -> bool:
        """Extend ``owner``'s claim on a report; False when it no longer holds it."""
        r = REPORTS.c
        with self._tx(write=True) as conn:
            done = conn.execute(
                sa.update(REPORTS)
                .where(
                    (r.connection == connection)
                    & (r.report_id == report_id)
                    & (r.claim_owner == owner)
                )
                .values(claim_until=str(now.timestamp() + lease_seconds))
            )
            return done.rowcount == 1

    def release(self, connection: str, report_id: str, owner: str) -> None:
        """Give the lease back (no-op if another owner took it over)."""
        with self._held_lock:
            self._held.pop((connection, report_id, owner), None)
        self._write(
            self._statements().release,
            {"k_connection": connection, "k_report": report_id, "owner": owner},
        )

    def get(self, connection: str, report_id: str) -> ReportRecord | None:
        """The report's row with its documents."""
        sql = self._statements()
        key = {"connection": connection, "report_id": report_id}
        with self._tx(write=False) as conn:
            row = conn.execute(sql.report_row, key).first()
            if row is None:
                return None
            docs = sorted(conn.execute(sql.report_docs, key).all(), key=_by_key)
        return _record(row, docs)

    def get_many(self, connection: str, report_ids: Sequence[str]) -> dict[str, ReportRecord]:
        """The rows (with documents) of those of ``report_ids`` the store knows: one read
        transaction, two indexed queries per 500 reports."""
        with self._tx(write=False) as conn:
            return self._records_in(conn, connection, list(dict.fromkeys(report_ids)))

    def statuses(self, connection: str, report_ids: Sequence[str]) -> dict[str, ReportStatus]:
        """The status of each of ``report_ids`` that the store knows (one query per 500)."""
        r = REPORTS.c
        ids = list(dict.fromkeys(report_ids))
        found: dict[str, ReportStatus] = {}
        with self._tx(write=False) as conn:
            for start in range(0, len(ids), 500):
                rows = conn.execute(
                    sa.select(r.report_id, r.status).where(
                        (r.connection == connection) & r.report_id.in_(ids[start : start + 500])
                    )
                ).all()
                found.update((str(rid), ReportStatus(status)) for rid, status in rows)
        return found

    def save_snapshot(
        self, connection: str, report: Report, fingerprint: str, now: datetime
    ) -> None:
        """Keep the export snapshot (and fingerprint) of a report not yet posted."""
        self._write(
            self._statements().snapshot,
            {
                "connection": connection,
                "report_id": report.report_id,
                "status": ReportStatus.PULLED.value,
                "fingerprint": fingerprint,
                "snapshot": report_to_json(report),
                "updated_at": now.isoformat(),
            },
        )

    def set_status(
        self,
        connection: str,
        report_id: str,
        status: ReportStatus,
        now: datetime,
        problems: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Move a report to ``status`` (``problems``: the reasons a report is held).

        POSTING (the intent recorded before any ERP write) is committed durably.
        """
        self._write(
            self._statements().status,
            {
                "connection": connection,
                "report_id": report_id,
                "status": status.value,
                "errors": json.dumps(list(problems)) if problems else "[]",
                "updated_at": now.isoformat(),
            },
            durable=status is ReportStatus.POSTING,
        )

    def add_document(
        self, connection: str, report_id: str, document: DocumentRecord, now: datetime
    ) -> None:
        """Record a document number (idempotent per key); committed durably."""
        self._write(
            self._statements().document,
            {
                "connection": connection,
                "report_id": report_id,
                "key": document.key,
                "kind": document.kind,
                "number": document.number,
                "part": document.part,
                "created_at": now.isoformat(),
            },
            durable=True,
        )

    def with_status(self, connection: str, *statuses: ReportStatus) -> list[ReportRecord]:
        """Every report of ``connection`` in one of ``statuses`` (all when none given)."""
        r, d = REPORTS.c, DOCUMENTS.c
        where = r.connection == connection
        if statuses:
            where = where & r.status.in_([s.value for s in statuses])
        # Sorted here, not by ORDER BY: that would lead SQLite to scan the primary key in
        # order (every report of the history) instead of using the status index.
        with self._tx(write=False) as conn:
            rows = list(conn.execute(sa.select(REPORTS).where(where)).all())
            docs = conn.execute(
                sa.select(d.report_id, d.key, d.kind, d.number, d.part).where(
                    (d.connection == connection)
                    & d.report_id.in_(sa.select(r.report_id).where(where).scalar_subquery())
                )
            ).all()
        by_report: dict[str, list[Any]] = {}
        for doc in sorted(docs, key=_by_key):
            by_report.setdefault(doc.report_id, []).append(doc)
        rows.sort(key=lambda row: str(row.report_id))
        return [_record(row, by_report.get(row.report_id, [])) for row in rows]

    def summary(self, connection: str) -> dict[str, int]:
        """Number of reports per status."""
        r = REPORTS.c
        with self._tx(write=False) as conn:
            rows = conn.execute(
                sa.select(r.status, sa.func.count())
                .where(r.connection == connection)
                .group_by(r.status)
            ).all()
        return {str(status): int(n) for status, n in rows}

    # ------------------------------------------------------------------ bookmarks, runs

    def bookmark(self, connection: str) -> datetime | None:
        """The signpost of the last sync that could advance (tz-aware), if any."""
        b = BOOKMARKS.c
        with self._tx(write=False) as conn:
            value = conn.execute(sa.select(b.value).where(b.connection == connection)).scalar()
        return datetime.fromisoformat(value) if value else None

    def set_bookmark(self, connection: str, value: datetime) -> None:
        """Advance the bookmark (never moves it backwards)."""
        b = BOOKMARKS.c
        with self._tx(write=True) as conn:
            conn.execute(
                self._insert(BOOKMARKS)
                .values(connection=connection, value=value.isoformat())
                .on_conflict_do_nothing()
            )
            current = conn.execute(
                sa.select(b.value).where(b.connection == connection).with_for_update()
            ).scalar_one()
            if datetime.fromisoformat(current) >= value:
                return
            conn.execute(
                sa.update(BOOKMARKS)
                .where(b.connection == connection)
                .values(value=value.isoformat())
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
        stmt = self._insert(RUNS).values(
            run_id=run_id,
            connection=connection,
            started=started.isoformat(),
            finished=finished.isoformat(),
            summary=json.dumps(summary, sort_keys=True),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[RUNS.c.run_id],
            set_={
                "connection": stmt.excluded.connection,
                "started": stmt.excluded.started,
                "finished": stmt.excluded.finished,
                "summary": stmt.excluded.summary,
            },
        )
        with self._tx(write=True) as conn:
            conn.execute(stmt)

    def runs(self, connection: str, limit: int = 10) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        u = RUNS.c
        with self._tx(write=False) as conn:
            rows = conn.execute(
                sa.select(RUNS)
                .where(u.connection == connection)
                .order_by(u.started.desc())
                .limit(limit)
            ).all()
        return [
            {
                "run_id": row.run_id,
                "started": row.started,
                "finished": row.finished,
                **json.loads(row.summary),
            }
            for row in rows
        ]

    # ------------------------------------------------------------------ audit

    def audit(self, entry: AuditEntry, connection: str) -> None:
        """Append one entry to the audit trail (the database refuses updates and deletes)."""
        self._write(
            self._statements().audit,
            {
                "at": entry.at.isoformat(),
                "connection": connection,
                "run_id": entry.run_id,
                "report_id": entry.report_id,
                "step": entry.step,
                "outcome": entry.outcome,
                "document": entry.document,
                "error_code": entry.error_code,
                "detail": entry.detail,
                "digest": entry.digest,
            },
        )

    def audit_trail(self, report_id: str, connection: str | None = None) -> list[AuditEntry]:
        """Every audit entry of a report, oldest first."""
        a = AUDIT.c
        where = a.report_id == report_id
        if connection is not None:
            where = where & (a.connection == connection)
        with self._tx(write=False) as conn:
            rows = conn.execute(sa.select(AUDIT).where(where).order_by(a.id)).all()
        return [
            AuditEntry(
                at=datetime.fromisoformat(row.at),
                run_id=row.run_id,
                report_id=row.report_id,
                step=row.step,
                outcome=row.outcome,
                document=row.document,
                error_code=row.error_code,
                detail=row.detail,
                digest=row.digest,
            )
            for row in rows
        ]

    def receipt_followups(
        self, connection: str, run_id: str, step: str = "receipt"
    ) -> dict[str, int]:
        """Reports whose receipt pass last ended with a warning (audit ``step``: ``receipt``,
        or ``report_pdf`` for the report PDF; a ``warning`` after their last
        ``complete``/``abandoned``) -> the runs that left one (attempts); reports with a
        line of that step in ``run_id`` are left out. One query over the ``audit_step`` index."""
        a = AUDIT.c
        warned = a.outcome == "warning"
        closed = a.outcome.in_(("complete", "abandoned"))
        query = (
            sa.select(
                a.report_id,
                sa.func.count(sa.distinct(sa.case((warned, a.run_id)))),
                sa.func.max(sa.case((warned, a.id))),
                sa.func.max(sa.case((closed, a.id))),
                sa.func.max(sa.case((a.run_id == run_id, 1), else_=0)),
            )
            .where((a.connection == connection) & (a.step == step))
            .group_by(a.report_id)
        )
        with self._tx(write=False) as conn:
            rows = conn.execute(query).all()
        return {
            str(rid): int(attempts)
            for rid, attempts, last_warning, last_closed, now in rows
            if last_warning is not None and (last_closed is None or last_warning > last_closed)
            and not now
        }  # fmt: skip

    # ------------------------------------------------------------------ named leases

    def acquire_lease(
        self, connection: str, name: str, owner: str, now: datetime, lease_seconds: float
    ) -> bool:
        """Take the named lease unless another live owner holds it (re-entrant)."""
        l_ = LEASES.c
        key = (l_.connection == connection) & (l_.name == name)
        until = now.timestamp() + lease_seconds
        with self._tx(write=True) as conn:
            while True:
                inserted = conn.execute(
                    self._insert(LEASES)
                    .values(connection=connection, name=name, owner=owner, until=until)
                    .on_conflict_do_nothing()
                )
                if inserted.rowcount == 1:
                    return True
                row = conn.execute(
                    sa.select(l_.owner, l_.until).where(key).with_for_update()
                ).first()
                if row is not None:  # else released meanwhile: insert again
                    break
            if row.owner != owner and row.until > now.timestamp():
                return False
            conn.execute(sa.update(LEASES).where(key).values(owner=owner, until=until))
            return True

    def renew_lease(
        self, connection: str, name: str, owner: str, now: datetime, lease_seconds: float
    ) -> bool:
        """Extend ``owner``'s lease; False when it was taken over (or released)."""
        l_ = LEASES.c
        with self._tx(write=True) as conn:
            done = conn.execute(
                sa.update(LEASES)
                .where((l_.connection == connection) & (l_.name == name) & (l_.owner == owner))
                .values(until=now.timestamp() + lease_seconds)
            )
            return done.rowcount == 1

    def release_lease(self, connection: str, name: str, owner: str) -> None:
        """Give the named lease back (no-op when another owner holds it)."""
        l_ = LEASES.c
        with self._tx(write=True) as conn:
            conn.execute(
                sa.delete(LEASES).where(
                    (l_.connection == connection) & (l_.name == name) & (l_.owner == owner)
                )
            )

    def lease_holder(self, connection: str, name: str, now: datetime) -> str | None:
        """The live holder of a named lease, if any."""
        l_ = LEASES.c
        with self._tx(write=False) as conn:
            row = conn.execute(
                sa.select(l_.owner, l_.until).where(
                    (l_.connection == connection) & (l_.name == name)
                )
            ).first()
        if row is None or row.until <= now.timestamp():
            return None
        return str(row.owner)

    @contextmanager
    def run_lease(
        self,
        connection: str,
        owner: str | None = None,
        *,
        lease_seconds: float = 90.0,
        wait: float = 0.0,
        poll: float = 1.0,
    ) -> Iterator[Lease]:
        """Hold the per-tenant run lease for the block: one sync per connection at a time.

        ``wait`` = 0 skips at once (:class:`LeaseBusyError`) when another live worker holds
        it; otherwise waits up to ``wait`` seconds, polling every ``poll``. The lease is
        renewed by a heartbeat thread every third of ``lease_seconds`` while the block
        runs, so a killed worker's lease lapses within ``lease_seconds``.
        """
        owner = owner or uuid.uuid4().hex
        deadline = time.monotonic() + wait
        while not self.acquire_lease(connection, "run", owner, _records.utcnow(), lease_seconds):
            if time.monotonic() >= deadline:
                holder = self.lease_holder(connection, "run", _records.utcnow())
                raise LeaseBusyError(
                    self.location,
                    f"a sync of connection {connection!r} is already running (lease held by "
                    f"{holder or 'another worker'})",
                    holder=holder,
                )
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())) or poll)
        lease = Lease(connection, "run", owner, lease_seconds)
        with self._held_lock:
            self._leases[(connection, "run", owner)] = lease
        self._start_heartbeat()
        try:
            yield lease
        finally:
            with self._held_lock:
                self._leases.pop((connection, "run", owner), None)
            self.release_lease(connection, "run", owner)

    # ------------------------------------------------------------------ heartbeat

    def _hold(self, connection: str, report_id: str, owner: str, seconds: float) -> None:
        if not self._heartbeat:
            return
        with self._held_lock:
            self._held[(connection, report_id, owner)] = seconds
        self._start_heartbeat()

    def _start_heartbeat(self) -> None:
        with self._held_lock:
            if self._beat is not None and self._beat.is_alive():
                return
            stop = self._stop
            self._beat = threading.Thread(
                target=self._beat_loop, args=(stop,), name="expense-bridge-lease", daemon=True
            )
            self._beat.start()

    def _beat_loop(self, stop: threading.Event) -> None:
        while True:
            with self._held_lock:
                claims = dict(self._held)
                leases = list(self._leases.values())
            durations = [*claims.values(), *(lease.seconds for lease in leases)]
            interval = min(durations) / 3 if durations else 1.0
            if stop.wait(interval):
                return
            now = _records.utcnow()
            for (connection, report_id, owner), seconds in claims.items():
                try:
                    self.renew(connection, report_id, owner, now, seconds)
                except StateStoreError:  # the next beat tries again; the lease may lapse
                    continue
            for lease in leases:
                try:
                    ok = self.renew_lease(
                        lease.connection, lease.name, lease.owner, now, lease.seconds
                    )
                except StateStoreError:
                    continue
                if not ok:
                    lease.lost.set()

    # ------------------------------------------------------------------ tenants

    def put_tenant(self, name: str, document: str, now: datetime) -> None:
        """Store (or replace) a tenant's configuration (TOML text, no secrets)."""
        stmt = self._insert(TENANTS).values(
            name=name, document=document, updated_at=now.isoformat()
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[TENANTS.c.name],
            set_={"document": stmt.excluded.document, "updated_at": stmt.excluded.updated_at},
        )
        with self._tx(write=True, durable=True) as conn:
            conn.execute(stmt)

    def tenant_documents(self) -> dict[str, str]:
        """Every stored tenant configuration by name."""
        t = TENANTS.c
        with self._tx(write=False) as conn:
            rows = conn.execute(sa.select(t.name, t.document).order_by(t.name)).all()
        return {str(name): str(document) for name, document in rows}

    def remove_tenant(self, name: str) -> bool:
        """Delete a stored tenant configuration; False when there was none."""
        with self._tx(write=True, durable=True) as conn:
            done = conn.execute(sa.delete(TENANTS).where(TENANTS.c.name == name))
            return done.rowcount == 1

    # ------------------------------------------------------------------ rate limits

    def reserve_send_row(
        self, key: str, windows: Sequence[tuple[int, float]], clock: Callable[[], float]
    ) -> tuple[float, int | None]:
        """Reserve the earliest send every window allows for ``key``: ``(seconds to wait,
        the booking's row for finish_send)``.

        ``windows``: ``(max_calls, period_seconds)`` pairs; ``clock``: epoch seconds, read
        once the key's lock is held. Serialised per key (SQLite's write lock; a PostgreSQL
        advisory lock on the key), so every process sharing this database shares the
        windows. On PostgreSQL the server's clock is used instead, so machines need not
        agree on the time.
        """
        horizon = max(p for _, p in windows)
        depth = max(n for n, _ in windows)
        s = RATE_SENDS.c
        with self._tx(write=True) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(key))))
                now = float(
                    conn.execute(
                        sa.select(sa.extract("epoch", sa.func.clock_timestamp()))
                    ).scalar_one()
                )
            else:
                now = clock()  # BEGIN IMMEDIATE holds the write lock already
            conn.execute(sa.delete(RATE_SENDS).where((s.key == key) & (s.at < now - horizon)))
            sent = list(
                conn.execute(
                    sa.select(s.at).where(s.key == key).order_by(s.at.desc()).limit(depth)
                ).scalars()
            )
            sent.reverse()
            at = now
            for max_calls, period in windows:
                if len(sent) >= max_calls:
                    at = max(at, sent[-max_calls] + period)
            row = conn.execute(sa.insert(RATE_SENDS).values(key=key, at=at)).inserted_primary_key
            return float(at - now), (int(row[0]) if row else None)

    def reserve_send(
        self, key: str, windows: Sequence[tuple[int, float]], clock: Callable[[], float]
    ) -> float:
        """Reserve the earliest send every window allows for ``key``; seconds to wait.

        See :meth:`reserve_send_row` (which also returns the booking's row).
        """
        return self.reserve_send_row(key, windows, clock)[0]

    def finish_send(self, row: int, clock: Callable[[], float]) -> None:
        """Move a booked send to its completion time (if later): the vendor counted it
        no later than that, so later bookings are spaced from it."""
        s = RATE_SENDS.c
        with self._tx(write=True) as conn:
            now: sa.ColumnElement[Any] = (
                sa.extract("epoch", sa.func.clock_timestamp())
                if conn.dialect.name == "postgresql"
                else sa.literal(clock())
            )
            conn.execute(sa.update(RATE_SENDS).where((s.id == row) & (s.at < now)).values(at=now))


@contextmanager
def _nolock() -> Iterator[None]:
    yield


class _Statements:
    """The hot statements, built once per store (constructing a Core statement costs more
    than executing a cached one); parameters are bound at execution."""

    def __init__(self, dialect: str) -> None:
        from sqlalchemy.dialects import postgresql, sqlite

        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        r, d = REPORTS.c, DOCUMENTS.c
        report_key = (r.connection == sa.bindparam("connection")) & (
            r.report_id == sa.bindparam("report_id")
        )
        self.report_row = sa.select(REPORTS).where(report_key)
        # Sorted by key in Python: an ORDER BY would lead SQLite to scan the primary key.
        self.report_docs = sa.select(d.key, d.kind, d.number, d.part).where(
            (d.connection == sa.bindparam("connection"))
            & (d.report_id == sa.bindparam("report_id"))
        )
        self.claim_row = sa.select(r.claim_owner, r.claim_until).where(report_key).with_for_update()
        self.claim_insert = insert(REPORTS).on_conflict_do_nothing()
        # UPDATE cannot bind a column's own name: its key is bound as k_connection, k_report.
        update_key = (r.connection == sa.bindparam("k_connection")) & (
            r.report_id == sa.bindparam("k_report")
        )
        self.claim_update = (
            sa.update(REPORTS)
            .where(update_key)
            .values(claim_owner=sa.bindparam("owner"), claim_until=sa.bindparam("until"))
        )
        self.release = (
            sa.update(REPORTS)
            .where(update_key & (r.claim_owner == sa.bindparam("owner")))
            .values(claim_owner=None, claim_until=None)
        )
        snapshot = insert(REPORTS)
        self.snapshot = snapshot.on_conflict_do_update(
            index_elements=[r.connection, r.report_id],
            set_={
                "snapshot": snapshot.excluded.snapshot,
                "fingerprint": snapshot.excluded.fingerprint,
                "updated_at": snapshot.excluded.updated_at,
            },
        )
        status = insert(REPORTS)
        self.status = status.on_conflict_do_update(
            index_elements=[r.connection, r.report_id],
            set_={
                "status": status.excluded.status,
                "errors": status.excluded.errors,
                "updated_at": status.excluded.updated_at,
            },
        )
        document = insert(DOCUMENTS)
        self.document = document.on_conflict_do_update(
            index_elements=[d.connection, d.key],
            set_={
                "report_id": document.excluded.report_id,
                "kind": document.excluded.kind,
                "number": document.excluded.number,
                "part": document.excluded.part,
                "created_at": document.excluded.created_at,
            },
        )
        self.audit = sa.insert(AUDIT)
        # The writes above, compiled once each for SQLite (see sqlite_sql).
        self._own = {id(stmt) for stmt in (self.release, self.snapshot, self.status,
                                           self.document, self.audit)}  # fmt: skip
        self._sqlite: dict[tuple[int, tuple[str, ...]], tuple[str, dict[str, Any]]] = {}

    def sqlite_sql(self, stmt: Any, keys: tuple[str, ...]) -> tuple[str, dict[str, Any]] | None:
        """The SQLite text (named parameters) of one of this object's writes with
        parameters ``keys``, compiled once, and the values of the statement's own bound
        constants (``claim_owner=None`` of a release); None for any other statement.

        Executed on the DBAPI cursor of the transaction's connection, it skips
        SQLAlchemy's per-statement execution work (a queued write is a plain INSERT or
        UPDATE of text values: no result, no type processing, no Python-side default).
        """
        if id(stmt) not in self._own:
            return None
        key = (id(stmt), keys)
        found = self._sqlite.get(key)
        if found is None:
            from sqlalchemy.dialects import sqlite

            compiled = stmt.compile(
                dialect=sqlite.dialect(paramstyle="named"), column_keys=list(keys)
            )
            own = {k: v for k, v in compiled.params.items() if k not in keys}
            found = self._sqlite[key] = (str(compiled), own)  # the same in every thread
        return found


def _execute_all(
    conn: sa.Connection, writes: Sequence[tuple[Any, dict[str, Any]]], sql: _Statements
) -> None:
    """Execute queued writes in order; a run of one statement is one ``executemany``.
    On SQLite the store's own writes go straight to the DBAPI cursor of the transaction's
    connection, compiled once (:meth:`_Statements.sqlite_sql`)."""
    sqlite = conn.dialect.name == "sqlite"
    for i, j in _runs(writes):
        stmt = writes[i][0]
        raw = sql.sqlite_sql(stmt, tuple(writes[i][1])) if sqlite else None
        if raw is not None:
            try:
                _raw_execute(conn.connection.dbapi_connection, raw, writes[i:j])
            except sqlite3.Error as exc:  # as SQLAlchemy would raise it (see _translated)
                raise sa.exc.DBAPIError.instance(
                    raw[0], None, exc, sqlite3.Error, hide_parameters=True
                ) from exc
        elif j - i == 1:
            conn.execute(stmt, writes[i][1])
        else:
            conn.execute(stmt, [params for _, params in writes[i:j]])


def _runs(writes: Sequence[tuple[Any, dict[str, Any]]]) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each run of consecutive writes of one statement, in order."""
    i = 0
    while i < len(writes):
        stmt = writes[i][0]
        j = i + 1
        while j < len(writes) and writes[j][0] is stmt:
            j += 1
        yield i, j
        i = j


def _raw_execute(
    dbapi: Any, raw: tuple[str, dict[str, Any]], writes: Sequence[tuple[Any, dict[str, Any]]]
) -> None:
    """Execute one statement's run of writes on a sqlite3 connection (named parameters,
    with the statement's own constants from :meth:`_Statements.sqlite_sql`)."""
    text, own = raw
    rows = [{**params, **own} if own else params for _, params in writes]
    cursor = dbapi.cursor()
    try:
        if len(rows) == 1:
            cursor.execute(text, rows[0])
        else:
            cursor.executemany(text, rows)
    finally:
        cursor.close()


def _raw_commit(
    fairy: Any, writes: Sequence[tuple[Any, dict[str, Any]]], sql: _Statements, *, durable: bool
) -> None:
    """One write transaction of the store's own writes on a pooled sqlite3 connection:
    ``synchronous`` FULL when ``durable`` (else NORMAL), ``BEGIN IMMEDIATE``, the writes
    in order (a run of one statement as one ``executemany``), ``COMMIT``; rolled back on
    any failure. sqlite3 errors are raised as SQLAlchemy's (see :func:`_translated`)."""
    dbapi = fairy.dbapi_connection
    info = fairy.info
    level = "FULL" if durable else "NORMAL"
    statement = ""
    try:
        if info.get("eb_sync") != level:
            statement = f"PRAGMA synchronous={level}"
            dbapi.execute(statement)  # outside the transaction
            info["eb_sync"] = level
        statement = "BEGIN IMMEDIATE"
        dbapi.execute(statement)
        try:
            for i, j in _runs(writes):
                raw = sql.sqlite_sql(writes[i][0], tuple(writes[i][1]))
                assert raw is not None  # noqa: S101 - checked by the caller
                statement = raw[0]
                _raw_execute(dbapi, raw, writes[i:j])
            statement = "COMMIT"
            dbapi.execute(statement)
        except BaseException:
            if dbapi.in_transaction:
                dbapi.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:  # as SQLAlchemy would raise it (see _translated)
        raise sa.exc.DBAPIError.instance(
            statement, None, exc, sqlite3.Error, hide_parameters=True
        ) from exc


def _by_key(doc: Any) -> str:
    return str(doc.key)


def _record(row: Any, docs: Sequence[Any]) -> ReportRecord:
    errors = tuple(json.loads(row.errors or "[]"))
    return ReportRecord(
        report_id=row.report_id,
        status=ReportStatus(row.status),
        fingerprint=row.fingerprint,
        snapshot=row.snapshot,
        error_codes=tuple(str(e.get("code")) for e in errors),
        errors=errors,
        documents=tuple(
            DocumentRecord(key=d.key, kind=d.kind, number=d.number, part=d.part) for d in docs
        ),
        updated_at=datetime.fromisoformat(row.updated_at) if row.updated_at else None,
    )


class SQLiteStore(DatabaseStore):
    """The embedded default: a :class:`DatabaseStore` on one SQLite file (WAL).

    ``path=None`` uses the default path under the user's data directory; ``":memory:"``
    keeps everything in memory (tests). The file is opened lazily on first use.
    """

    def __init__(self, path: Path | str | None = None, *, timeout: float = 30.0, **kw: Any) -> None:
        self.path = str(path) if path is not None else None
        super().__init__(Path(path) if path is not None else None, timeout=timeout, **kw)


def _wal_retrying() -> tenacity.Retrying:
    """Retry ``PRAGMA journal_mode=WAL`` while SQLite says the file is locked.

    Up to 100 tries 20 ms apart (about 2 s), then the last ``OperationalError`` is raised;
    any other error is raised at once.
    """
    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(100),
        wait=tenacity.wait_fixed(0.02),
        retry=tenacity.retry_if_exception(lambda exc: "locked" in str(exc)),
        reraise=True,
    )
