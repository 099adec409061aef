"""The embedded default: one SQLite file under the data directory (aiosqlite, WAL), nothing to install.

SQLite has no exact decimal type: money and quantities are stored as decimal strings, and its SUM would
add them as floats. So the database groups and concatenates the strings and Python adds them as
Decimals (`_exact_sum` / `_read_sum`). Several processes (prefork workers, job workers) may share the
file: WAL lets readers run beside the one writer, and busy_timeout makes a writer wait its turn.
"""

from __future__ import annotations

import asyncio
import decimal
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.dml import Insert

from .store import LedgerStore

__all__ = ["SqliteLedgerStore", "sqlite_url", "MIGRATION_LOCK_SECONDS"]

MIGRATION_LOCK_SECONDS = 120.0

_SEPARATOR = ","
# Wide enough that no realistic sum of ledger amounts is ever rounded; Inexact makes one that would loud.
_EXACT = decimal.Context(prec=80, traps=[decimal.Inexact, decimal.InvalidOperation])


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # busy_timeout first: switching a new file to WAL takes a lock another process may hold right now.
    for pragma in ("busy_timeout=10000", "journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


class SqliteLedgerStore(LedgerStore):
    @classmethod
    def open(cls, url: str) -> SqliteLedgerStore:
        database = make_url(url).database or ""
        in_memory = database in ("", ":memory:")
        if not in_memory:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, poolclass=StaticPool) if in_memory else create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _pragmas)
        return cls(engine)

    def _insert(self, table: sa.Table) -> Insert:
        return sqlite_insert(table).on_conflict_do_nothing()

    def _epoch(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
        # Whole seconds only ("YYYY-MM-DD HH:MM:SS"): SQLite's date functions round to milliseconds, which
        # would put 00:00:59.9999995 in the next minute's bucket.
        return sa.cast(sa.func.strftime("%s", sa.func.substr(column, 1, 19)), sa.BigInteger)

    def _exact_sum(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.func.group_concat(sa.type_coerce(column, sa.String), _SEPARATOR)

    def _read_sum(self, value: Any) -> Decimal:
        if not value:
            return Decimal(0)
        with decimal.localcontext(_EXACT):
            return sum((Decimal(part) for part in str(value).split(_SEPARATOR)), Decimal(0))

    async def _lock_migrations(self, conn: AsyncConnection) -> None:
        # Take the write lock now rather than at the first DDL statement, so two processes starting at
        # once run their migrations one after the other (the second then finds nothing to do).
        # Each try waits busy_timeout; on a loaded machine a queue of processes may wait longer than one.
        deadline = time.monotonic() + MIGRATION_LOCK_SECONDS
        while True:
            try:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.05)
