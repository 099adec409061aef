"""The ledger's tables (SQLAlchemy Core), shared by both stores; migrations/ creates them.

Money and quantities are exact everywhere: NUMERIC on PostgreSQL, and on SQLite a decimal string in a
TEXT-affinity column (SQLite's NUMERIC affinity would turn `0.0000042` into a float). Billing lines get a
table of their own rather than a JSON column: costs grouped by line item are then a SQL join and sum
over exact NUMERIC columns, which JSON would give up (SQLite's JSON numbers are floats). The attempts
are JSON: they are only ever read back with their row, never aggregated.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

__all__ = ["metadata", "rows", "lines", "ExactDecimal", "UtcDateTime", "aware", "exact_text", "quoted_rfc3339",
           "VERSION_TABLE"]

# Alembic's bookkeeping table, named so a PostgreSQL database shared with other applications is no problem.
VERSION_TABLE = "ledger_alembic_version"


def exact_text(value: Decimal) -> str:
    """The decimal in plain notation with every digit kept (no exponent, no rounding to a context).

    `str` is that already unless it chose an exponent (tiny or whole-hundreds values), and costs a
    quarter of `format(value, "f")`, which the writer ran five times per request."""
    text = str(value)
    return text if "E" not in text else format(value, "f")


class ExactDecimal(sa.types.TypeDecorator[Decimal]):
    """NUMERIC (arbitrary precision) on PostgreSQL, a plain-notation decimal string elsewhere."""

    impl = sa.String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Numeric(asdecimal=True))
        return dialect.type_descriptor(sa.String(64))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return exact_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


def aware(value: datetime) -> datetime:
    """The instant in UTC; a naive time is refused as data (the writer sets such a row aside)."""
    if value.tzinfo is None:
        raise ValueError("ledger times must be timezone-aware (UTC)")
    return value.astimezone(UTC)


_RFC3339 = msgspec.json.Encoder()


def quoted_rfc3339(value: datetime) -> bytes:
    """The instant in UTC as msgspec writes it, `b'"YYYY-MM-DDTHH:MM:SS[.ffffff]Z"'` (the fraction only when
    it is not zero): a tenth of the CPU of `isoformat`, for the writer's text forms of a time."""
    return _RFC3339.encode(aware(value))


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """TIMESTAMPTZ on PostgreSQL; naive UTC text on SQLite (fixed width, so text order is time order)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = aware(value)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


metadata = sa.MetaData()

rows = sa.Table(
    "ledger_rows", metadata,
    sa.Column("id", sa.String(128), primary_key=True),          # x-request-id or job id: writing twice is a no-op
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("api_key_id", sa.String(128)),                     # the key's name; NULL in open (loopback) mode
    sa.Column("endpoint", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("model_requested", sa.String(256), nullable=False),
    sa.Column("model_served", sa.String(256)),
    sa.Column("provider", sa.String(64)),
    sa.Column("upstream_model", sa.String(256)),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("fell_back", sa.Boolean(), nullable=False),
    sa.Column("attempt_outcomes", _json(), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("http_status", sa.Integer(), nullable=False),
    sa.Column("cost_usd", ExactDecimal(), nullable=False),
    sa.Column("characters", sa.BigInteger(), nullable=False),
    sa.Column("utf8_bytes", sa.BigInteger(), nullable=False),
    sa.Column("input_tokens", sa.BigInteger(), nullable=False),
    sa.Column("audio_input_tokens", sa.BigInteger(), nullable=False),
    sa.Column("output_tokens", sa.BigInteger(), nullable=False),
    sa.Column("audio_seconds", ExactDecimal(), nullable=False),
    # audio_seconds rounded up to whole seconds, per row: the usage API's integer `seconds` then adds up
    # the same way whatever the bucket width or grouping.
    sa.Column("whole_seconds", sa.BigInteger(), nullable=False),
    sa.Column("requests", sa.Integer(), nullable=False),
    sa.Column("latency_ms", sa.Float(), nullable=False),          # timings are measurements, not money
    sa.Column("ttfb_ms", sa.Float()),
    sa.Column("bytes_in", sa.BigInteger(), nullable=False),
    sa.Column("bytes_out", sa.BigInteger(), nullable=False),
    sa.Column("route", sa.String(128)),
    sa.Column("trace_id", sa.String(64)),
    sa.Index("ix_ledger_rows_created_at", "created_at"),
    sa.Index("ix_ledger_rows_api_key_id_created_at", "api_key_id", "created_at"),
)

lines = sa.Table(
    "ledger_lines", metadata,
    sa.Column("row_id", sa.String(128), sa.ForeignKey("ledger_rows.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer(), primary_key=True),
    sa.Column("unit", sa.String(32), nullable=False),
    sa.Column("quantity", ExactDecimal(), nullable=False),
    sa.Column("price_usd", ExactDecimal(), nullable=False),
    sa.Column("per", sa.BigInteger(), nullable=False),
    sa.Column("cost_usd", ExactDecimal(), nullable=False),
    sa.Column("estimated", sa.Boolean(), nullable=False),
    sa.Column("model", sa.String(256)),          # the model that served this line when a row mixes models (a job)
)
