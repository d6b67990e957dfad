"""Scale-out: indexes for every look-up, named leases, tenants, shared rate-limit sends.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("reports_status", "reports", ["connection", "status"])
    op.create_index("documents_report", "documents", ["connection", "report_id"])
    op.create_index("runs_connection", "runs", ["connection", "started"])
    op.create_table(
        "leases",
        sa.Column("connection", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("until", sa.Float, nullable=False),
    )
    op.create_table(
        "tenants",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
    )
    op.create_table(
        "rate_sends",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("rate_sends_key", "rate_sends", ["key", "at"])


def downgrade() -> None:
    raise NotImplementedError("the state store is never downgraded (the audit trail is kept)")
