"""Alembic environment for the ledger. Only run programmatically (ledger/migrate.py hands it a connection):
users need no alembic.ini."""

from __future__ import annotations

from alembic import context

from audio_gateway.ledger.schema import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
