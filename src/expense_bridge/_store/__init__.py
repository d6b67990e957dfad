"""The state store: per-report ledger, bookmarks, runs, leases and the append-only audit.

:class:`StateStore` is the protocol the bridge uses; :class:`DatabaseStore` implements it
on SQLite (the embedded default, :class:`SQLiteStore`) or PostgreSQL, selected by URL, with
versioned migrations (see :mod:`expense_bridge._store._db` for leases, durability and
which writes are batched). Nothing outside this package knows which database it is.

Per-report state machine (see :class:`ReportStatus`)::

    PULLED -> PLANNED -> POSTING -> POSTED -> ACKNOWLEDGED
         \\         \\          \\
          +---------+----------+--> HELD (with error codes; replay or a new sync retries)

The audit trail never holds secrets: only report IDs, steps, outcomes, document numbers,
error codes and digests of requests/responses. The database itself refuses to update or
delete audit rows (triggers on both SQLite and PostgreSQL).
"""

from __future__ import annotations

from ._db import (
    DatabaseStore,
    Lease,
    SQLiteStore,
    database_url,
    describe_url,
    schema_head,
    schema_version,
    upgrade_database,
)
from ._errors import (
    LeaseBusyError,
    StateCorruptError,
    StateSchemaError,
    StateStoreError,
    StateUnavailableError,
)
from ._records import (
    AuditEntry,
    DocumentRecord,
    ReportRecord,
    ReportStatus,
    StateStore,
    batched,
    claim_reports,
    default_state_path,
    read_reports,
    report_from_json,
    report_statuses,
    report_to_json,
    utcnow,
)

__all__ = [
    "AuditEntry",
    "DatabaseStore",
    "DocumentRecord",
    "Lease",
    "LeaseBusyError",
    "ReportRecord",
    "ReportStatus",
    "SQLiteStore",
    "StateCorruptError",
    "StateSchemaError",
    "StateStore",
    "StateStoreError",
    "StateUnavailableError",
    "batched",
    "claim_reports",
    "database_url",
    "default_state_path",
    "describe_url",
    "read_reports",
    "report_from_json",
    "report_statuses",
    "report_to_json",
    "schema_head",
    "schema_version",
    "upgrade_database",
    "utcnow",
]
