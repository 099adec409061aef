"""API keys in the database (issue 12): the keys, and the version counter replicas poll.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Written out, not imported from keys/schema.py (see 0001). Exact decimals: NUMERIC on PostgreSQL, text on SQLite.
_DECIMAL = sa.Numeric(asdecimal=True).with_variant(sa.String(64), "sqlite")


def upgrade() -> None:
    op.create_table(
        "gateway_keys",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("models", sa.JSON()),
        sa.Column("budget_usd", _DECIMAL),
        sa.Column("budget_period", sa.String(8)),
        sa.Column("rpm", sa.Integer()),
        sa.Column("characters_per_minute", sa.BigInteger()),
        sa.Column("audio_seconds_per_minute", sa.BigInteger()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
    )
    version = op.create_table(
        "gateway_keys_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(version, [{"id": 1, "version": 0}])


def downgrade() -> None:
    op.drop_table("gateway_keys_version")
    op.drop_table("gateway_keys")
