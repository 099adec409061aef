"""The keys tables, in the ledger's database and metadata (one migration history, ledger/migrations).

`gateway_keys_version` holds one counter, raised in the same transaction as every change to a key:
each replica polls that one integer and reloads the keys only when it moved.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..ledger.schema import ExactDecimal, UtcDateTime, metadata

__all__ = ["keys", "keys_version"]

keys = sa.Table(
    "gateway_keys", metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),      # hex SHA-256 of the secret
    sa.Column("admin", sa.Boolean(), nullable=False),
    sa.Column("models", sa.JSON()),                                       # list of model ids; NULL: every model
    sa.Column("budget_usd", ExactDecimal()),
    sa.Column("budget_period", sa.String(8)),
    sa.Column("rpm", sa.Integer()),
    sa.Column("characters_per_minute", sa.BigInteger()),
    sa.Column("audio_seconds_per_minute", sa.BigInteger()),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("last_used_at", UtcDateTime()),
)

keys_version = sa.Table(
    "gateway_keys_version", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("version", sa.BigInteger(), nullable=False),
)
