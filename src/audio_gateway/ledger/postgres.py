"""PostgreSQL (asyncpg): one ledger shared by every gateway replica and job worker.

Money and quantities are NUMERIC (arbitrary precision), so PostgreSQL's own SUM is exact.

A batch is written with COPY into a session's temporary staging table, then one INSERT … SELECT … ON
CONFLICT DO NOTHING per table. asyncpg's executemany (one Bind/Execute per row) cost the server 28.5 µs
of CPU a row and the gateway 7.3; this costs 18.5 and 5.0 (`python -m benchmarks.ledger_writer`). On a
machine the database shares with the gateway's clients or upstreams, the server's CPU is throughput.
COPY cannot skip a conflicting row itself, and the staging table takes the exact decimals, times and
JSON as text, so the gateway never runs asyncpg's binary NUMERIC encoder (a Decimal taken apart through
`as_tuple()`, 8 k instructions a value) and the database casts them once, in the INSERT.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.schema import CreateTable

from .codec import LINE_COLUMNS, ROW_COLUMNS
from .model import LedgerRow
from .schema import ExactDecimal, UtcDateTime, exact_text, lines, quoted_rfc3339, rows
from .store import LedgerStore

__all__ = ["PostgresLedgerStore"]

# Any fixed 64-bit key: every process upgrading the ledger takes the same advisory lock.
_MIGRATION_LOCK = 0x6C65_6467_6572  # "ledger"


class _PostgresBinder:
    """Exact decimals go as their plain-notation text, which the INSERT casts to NUMERIC (`_Staging`): every
    digit and the scale arrive as written. Times go the same way, as RFC 3339 text in UTC (`...Z`), cast to
    TIMESTAMPTZ."""

    exact = staticmethod(exact_text)

    @staticmethod
    def utc(value: datetime) -> str:
        return quoted_rfc3339(value)[1:-1].decode()

    flag = staticmethod(bool)       # BOOLEAN takes a bool, and asyncpg refuses an int for it


_AS_TEXT = (ExactDecimal, UtcDateTime, sa.JSON)


class _Staging:
    """One ledger table's staging twin: a temporary table of this session, emptied at every commit, with
    text columns where the ledger's are NUMERIC, TIMESTAMPTZ or JSONB; and the statements that fill it
    and move its rows across."""

    def __init__(self, table: sa.Table, columns: tuple[str, ...]):
        dialect = postgresql.dialect()
        self.columns = columns
        staged = sa.Table(f"{table.name}_staged", sa.MetaData(),
                          *(sa.Column(name, sa.Text() if isinstance(table.c[name].type, _AS_TEXT) else table.c[name].type)
                            for name in columns),
                          prefixes=["TEMPORARY"], postgresql_on_commit="DELETE ROWS")
        self.name = staged.name
        self.create = str(CreateTable(staged, if_not_exists=True).compile(dialect=dialect))
        moved = sa.select(*(sa.cast(staged.c[name], table.c[name].type) if isinstance(table.c[name].type, _AS_TEXT)
                            else staged.c[name] for name in columns))
        self.move = str(pg_insert(table).from_select(list(columns), moved).on_conflict_do_nothing()
                        .compile(dialect=dialect))

    async def write(self, driver: asyncpg.Connection, records: list[tuple[Any, ...]]) -> None:
        await driver.copy_records_to_table(self.name, records=records, columns=self.columns)
        await driver.execute(self.move)


_ROWS, _LINES = _Staging(rows, ROW_COLUMNS), _Staging(lines, LINE_COLUMNS)
# Both staging tables in one simple-protocol round trip; IF NOT EXISTS on every batch rather than once
# per connection, so a new session (a reconnect, a pooler handing over another backend) never lacks them.
_CREATE_STAGING = f"{_ROWS.create};\n{_LINES.create}"


class PostgresLedgerStore(LedgerStore):
    bind = _PostgresBinder()

    @classmethod
    def open(cls, url: str) -> PostgresLedgerStore:
        # Short connect timeout: an unreachable server must send rows to the spill file quickly, not
        # hold the writer; pre-ping replaces connections a restarted server has closed.
        engine = create_async_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4, pool_timeout=5,
                                     connect_args={"timeout": 5, "command_timeout": 30})
        return cls(engine)

    async def _store(self, unique: list[LedgerRow]) -> None:
        """COPY into the staging tables and move their rows across, in one transaction of the driver's
        own (SQLAlchemy has no COPY); its errors are raised as SQLAlchemy's, as every other path's are."""
        row_params, line_params = self._params(unique)
        async with self._engine.connect() as conn:
            driver: asyncpg.Connection = (await conn.get_raw_connection()).driver_connection
            try:
                async with driver.transaction():
                    await driver.execute(_CREATE_STAGING)
                    await _ROWS.write(driver, row_params)
                    if line_params:
                        await _LINES.write(driver, line_params)
            except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # `orig.sqlstate` tells the writer a refused row (class 22/23) from an unavailable database.
                raise sa.exc.DBAPIError("COPY ledger batch", None, exc) from exc

    def _epoch(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
        return sa.cast(sa.func.floor(sa.extract("epoch", column)), sa.BigInteger)

    def _exact_sum(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.func.sum(column, type_=ExactDecimal())

    def _read_sum(self, value: Any) -> Decimal:
        return Decimal(0) if value is None else Decimal(value)

    async def _lock_migrations(self, conn: AsyncConnection) -> None:
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
