"""PostgreSQL (asyncpg): one ledger shared by every gateway replica and job worker.

Money and quantities are NUMERIC (arbitrary precision), so PostgreSQL's own SUM is exact.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.sql.dml import Insert

from .schema import ExactDecimal, UtcDateTime, exact_text, quoted_rfc3339
from .store import LedgerStore

__all__ = ["PostgresLedgerStore"]

# Any fixed 64-bit key: every process upgrading the ledger takes the same advisory lock.
_MIGRATION_LOCK = 0x6C65_6467_6572  # "ledger"


class _PostgresBinder:
    """Exact decimals go as their plain-notation text, which the INSERT casts to NUMERIC (`_insert`): every
    digit and the scale arrive as written, and the gateway skips asyncpg's binary NUMERIC encoder, which
    takes a Decimal apart through `as_tuple()` (8 k instructions a value, five a row: the most expensive
    part of writing a row). Times go the same way, as RFC 3339 text in UTC (`...Z`), cast to TIMESTAMPTZ."""

    exact = staticmethod(exact_text)

    @staticmethod
    def utc(value: datetime) -> str:
        return quoted_rfc3339(value)[1:-1].decode()

    flag = staticmethod(bool)       # BOOLEAN takes a bool, and asyncpg refuses an int for it


class PostgresLedgerStore(LedgerStore):
    bind = _PostgresBinder()

    @classmethod
    def open(cls, url: str) -> PostgresLedgerStore:
        # Short connect timeout: an unreachable server must send rows to the spill file quickly, not
        # hold the writer; pre-ping replaces connections a restarted server has closed.
        engine = create_async_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4, pool_timeout=5,
                                     connect_args={"timeout": 5, "command_timeout": 30})
        return cls(engine)

    def _insert(self, table: sa.Table) -> Insert:
        as_text = {column.name: sa.cast(sa.bindparam(column.name, type_=sa.String()), column.type)
                   for column in table.columns if isinstance(column.type, (ExactDecimal, UtcDateTime))}
        return pg_insert(table).values(as_text).on_conflict_do_nothing()

    def _epoch(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
        return sa.cast(sa.func.floor(sa.extract("epoch", column)), sa.BigInteger)

    def _exact_sum(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.func.sum(column, type_=ExactDecimal())

    def _read_sum(self, value: Any) -> Decimal:
        return Decimal(0) if value is None else Decimal(value)

    async def _lock_migrations(self, conn: AsyncConnection) -> None:
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
