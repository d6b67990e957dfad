"""Baseline: the schema of the first SQLite release (reports, documents, bookmarks, runs, audit).

A state file created by that release has exactly these tables and no version table; the
store stamps it with this revision and upgrades it from here.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_APPEND_ONLY = "the audit trail is append-only"


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("connection", sa.Text, primary_key=True),
        sa.Column("report_id", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text),
        sa.Column("snapshot", sa.Text),
        sa.Column("errors", sa.Text, nullable=False, server_default="[]"),
        sa.Column("claim_owner", sa.Text),
        sa.Column("claim_until", sa.Text),
        sa.Column("updated_at", sa.Text, nullable=False),
    )
    op.create_table(
        "documents",
        sa.Column("connection", sa.Text, primary_key=True),
        sa.Column("report_id", sa.Text, nullable=False),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("number", sa.Text, nullable=False),
        sa.Column("part", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    op.create_table(
        "bookmarks",
        sa.Column("connection", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("connection", sa.Text, nullable=False),
        sa.Column("started", sa.Text, nullable=False),
        sa.Column("finished", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )
    op.create_table(
        "audit",
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
        sqlite_autoincrement=True,
    )
    op.create_index("audit_report", "audit", ["report_id", "id"])
    if op.get_bind().dialect.name == "sqlite":
        for name, event in (("audit_append_only", "UPDATE"), ("audit_no_delete", "DELETE")):
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {event} ON audit "
                f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION expense_bridge_audit_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            f"RAISE EXCEPTION '{_APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
            "FOR EACH ROW EXECUTE FUNCTION expense_bridge_audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit "
            "FOR EACH STATEMENT EXECUTE FUNCTION expense_bridge_audit_append_only()"
        )


def downgrade() -> None:
    raise NotImplementedError("the state store is never downgraded (the audit trail is kept)")
