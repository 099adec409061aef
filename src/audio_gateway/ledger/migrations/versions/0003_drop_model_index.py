"""Drop the (model_served, created_at) index: every row paid for it, no query needed it.

Each secondary index costs every ledger row a B-tree insert (counted under callgrind on SQLite: about
6 k instructions a row, of some 150 k). Every read of the ledger is bounded by a time range, which
`ix_ledger_rows_created_at` serves; a `models=` filter then only narrows the rows in that range. The
key's index stays (budgets sum one key's spend), and so does the kind's (each Usage endpoint reads
one kind over a range).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_ledger_rows_model_served_created_at", table_name="ledger_rows")


def downgrade() -> None:
    op.create_index("ix_ledger_rows_model_served_created_at", "ledger_rows", ["model_served", "created_at"])
