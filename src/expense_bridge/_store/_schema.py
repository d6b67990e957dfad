"""The state store's tables (SQLAlchemy Core), one definition for SQLite and PostgreSQL.

The migrations in ``migrations/versions`` create exactly these tables; a test compares
the migrated database with this metadata. Column types stay those of the first SQLite
release (timestamps as ISO-8601 text) so an old state file upgrades in place.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "AUDIT",
    "BOOKMARKS",
    "DOCUMENTS",
    "LEASES",
    "METADATA",
    "RATE_SENDS",
    "REPORTS",
    "RUNS",
    "TENANTS",
    "VERSION_TABLE",
]

#: Alembic's version table, named for this project so a shared PostgreSQL database whose
#: own application also uses Alembic keeps the two histories apart.
VERSION_TABLE = "expense_bridge_schema"

METADATA = sa.MetaData()

REPORTS = sa.Table(
    "reports",
    METADATA,
    sa.Column("connection", sa.Text, primary_key=True),
    sa.Column("report_id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.Text),
    sa.Column("snapshot", sa.Text),
    sa.Column("errors", sa.Text, nullable=False, server_default="[]"),
    sa.Column("claim_owner", sa.Text),
    sa.Column("claim_until", sa.Text),
    sa.Column("updated_at", sa.Text, nullable=False),
    sa.Index("reports_status", "connection", "status"),
)

DOCUMENTS = sa.Table(
    "documents",
    METADATA,
    sa.Column("connection", sa.Text, primary_key=True),
    sa.Column("report_id", sa.Text, nullable=False),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("number", sa.Text, nullable=False),
    sa.Column("part", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Index("documents_report", "connection", "report_id"),
)

BOOKMARKS = sa.Table(
    "bookmarks",
    METADATA,
    sa.Column("connection", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

RUNS = sa.Table(
    "runs",
    METADATA,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("connection", sa.Text, nullable=False),
    sa.Column("started", sa.Text, nullable=False),
    sa.Column("finished", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Index("runs_connection", "connection", "started"),
)

AUDIT = sa.Table(
    "audit",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("connection", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("report_id", sa.Text, nullable=False),
    sa.Column("step", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("document", sa.Text),
    sa.Column("error_code", sa.Text),
    sa.Column("detail", sa.Text),
    sa.Column("digest", sa.Text),
    sa.Index("audit_report", "report_id", "id"),
    sa.Index("audit_step", "connection", "step", "report_id"),  # receipt retries (0003)
    sqlite_autoincrement=True,
)

#: Named leases (the per-tenant run lease): owner and expiry in epoch seconds.
LEASES = sa.Table(
    "leases",
    METADATA,
    sa.Column("connection", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("until", sa.Float, nullable=False),
)

#: Tenant configurations kept in the database (``expense_bridge.tenants``): TOML text.
TENANTS = sa.Table(
    "tenants",
    METADATA,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
)

#: Send times reserved by the shared rate limiter (epoch seconds), per limiter key.
RATE_SENDS = sa.Table(
    "rate_sends",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index("rate_sends_key", "key", "at"),
    sqlite_autoincrement=True,
)
