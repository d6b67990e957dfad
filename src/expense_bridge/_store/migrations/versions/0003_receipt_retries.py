"""Receipt retries: an index that finds a connection's receipt audit lines.

Later syncs retry receipts that ended as warnings on posted reports (``rules.
receipt_attempts``); they find those reports through the audit lines of step
``receipt``, without reading every report's trail.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("audit_step", "audit", ["connection", "step", "report_id"])


def downgrade() -> None:
    raise NotImplementedError("the state store is never downgraded (the audit trail is kept)")
