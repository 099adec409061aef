"""The ledger: one row per request or job, and its billing lines.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Written out here rather than imported from schema.py, so that later changes to the tables cannot
# rewrite what this revision created. Exact decimals: NUMERIC on PostgreSQL, text on SQLite.
_DECIMAL = sa.Numeric(asdecimal=True).with_variant(sa.String(64), "sqlite")
_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "ledger_rows",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("api_key_id", sa.String(128)),
        sa.Column("endpoint", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("model_requested", sa.String(256), nullable=False),
        sa.Column("model_served", sa.String(256)),
        sa.Column("provider", sa.String(64)),
        sa.Column("upstream_model", sa.String(256)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("fell_back", sa.Boolean(), nullable=False),
        sa.Column("attempt_outcomes", _JSON, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("cost_usd", _DECIMAL, nullable=False),
        sa.Column("characters", sa.BigInteger(), nullable=False),
        sa.Column("utf8_bytes", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("audio_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("audio_seconds", _DECIMAL, nullable=False),
        sa.Column("whole_seconds", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("ttfb_ms", sa.Float()),
        sa.Column("bytes_in", sa.BigInteger(), nullable=False),
        sa.Column("bytes_out", sa.BigInteger(), nullable=False),
        sa.Column("route", sa.String(128)),
        sa.Column("trace_id", sa.String(64)),
    )
    op.create_index("ix_ledger_rows_created_at", "ledger_rows", ["created_at"])
    op.create_index("ix_ledger_rows_api_key_id_created_at", "ledger_rows", ["api_key_id", "created_at"])
    op.create_index("ix_ledger_rows_model_served_created_at", "ledger_rows", ["model_served", "created_at"])
    op.create_index("ix_ledger_rows_kind_created_at", "ledger_rows", ["kind", "created_at"])
    op.create_table(
        "ledger_lines",
        sa.Column("row_id", sa.String(128), sa.ForeignKey("ledger_rows.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("quantity", _DECIMAL, nullable=False),
        sa.Column("price_usd", _DECIMAL, nullable=False),
        sa.Column("per", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", _DECIMAL, nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("model", sa.String(256)),      # the model that served this line when a row mixes models (a job)
    )


def downgrade() -> None:
    op.drop_table("ledger_lines")
    op.drop_table("ledger_rows")
