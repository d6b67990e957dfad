"""Alembic environment of the state store: always run through ``upgrade_database``.

The caller (:func:`expense_bridge._store.upgrade_database`) passes an open connection,
already inside the transaction that serialises migrations, in ``config.attributes``.
"""

from __future__ import annotations

from alembic import context

from expense_bridge._store._schema import METADATA, VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=METADATA,
    version_table=VERSION_TABLE,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
