"""The embedded default: one SQLite file under the data directory (aiosqlite, WAL), nothing to install.

SQLite has no exact decimal type: money and quantities are stored as decimal strings, and its SUM would
add them as floats. So the database groups and concatenates the strings and Python adds them as
Decimals (`_exact_sum` / `_read_sum`). Several processes (prefork workers, job workers) may share the
file: WAL lets readers run beside the one writer, and busy_timeout makes a writer wait its turn.
"""

from __future__ import annotations

import asyncio
import decimal
import logging
import sqlite3
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from .codec import LINE_COLUMNS, ROW_COLUMNS
from .model import LedgerRow
from .schema import exact_text, lines, quoted_rfc3339, rows
from .store import STORE_ERRORS, LedgerStore

__all__ = ["SqliteLedgerStore", "sqlite_url", "MIGRATION_LOCK_SECONDS"]

MIGRATION_LOCK_SECONDS = 120.0
_WRITE_CHUNK = 128            # rows per write transaction on the event loop: 2-6 ms
_CHECKPOINT_ROWS = 10_000     # rows written between WAL checkpoints (about 4 MB of WAL, as SQLite's default)
_LOCKED_RETRY_SECONDS = 0.005

log = logging.getLogger("audio_gateway.ledger")

_SEPARATOR = ","
# Wide enough that no realistic sum of ledger amounts is ever rounded; Inexact makes one that would loud.
_EXACT = decimal.Context(prec=80, traps=[decimal.Inexact, decimal.InvalidOperation])


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _writer_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """The loop's write connection never waits on a lock (busy_timeout 0) and never checkpoints in a commit.

    It does not check foreign keys: it writes each row before its lines, in one transaction, so a line's
    row is always there, and the check was a look-up of the row for every line (about 6 k instructions
    of a row's 150 k). Every other connection keeps them on, and with them ON DELETE CASCADE."""
    cursor = dbapi_connection.cursor()
    for pragma in ("busy_timeout=0", "journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=OFF",
                   "wal_autocheckpoint=0"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # busy_timeout first: switching a new file to WAL takes a lock another process may hold right now.
    cursor.execute("PRAGMA busy_timeout=10000")
    # Several processes opening a brand-new file at once: SQLite may refuse the switch to WAL at once
    # ("database is locked") rather than wait in the busy handler, so it is tried again for a while.
    # Once the file is in WAL mode (it stays so) this is a read.
    deadline = time.monotonic() + MIGRATION_LOCK_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)   # only ever for a file not yet in WAL mode, i.e. at start-up, before serving
    for pragma in ("synchronous=NORMAL", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


class _SqliteBinder:
    """What schema.ExactDecimal and UtcDateTime store on SQLite: plain-notation decimal text, naive UTC
    in SQLAlchemy's fixed-width DATETIME text (microseconds always written, so text order is time order),
    and booleans as the 0/1 that SQLAlchemy's Boolean stores.

    The fixed-width text is cut from msgspec's RFC 3339 (`schema.quoted_rfc3339`), a tenth of the CPU of
    `replace(tzinfo=None).isoformat(...)`. Booleans go as ints because Python's sqlite3 binds a bool
    only after a failed look-up for an adapter, which cost more per row than the two columns' INSERT work."""

    exact = staticmethod(exact_text)
    flag = staticmethod(int)

    @staticmethod
    def utc(value: datetime) -> str:
        rfc = quoted_rfc3339(value)
        if len(rfc) == 29:
            return rfc[1:27].replace(b"T", b" ").decode()
        return rfc[1:20].replace(b"T", b" ").decode() + ".000000"


class SqliteLedgerStore(LedgerStore):
    """Reads and migrations go through aiosqlite; rows are written synchronously on the event loop.

    aiosqlite runs each connection in a thread, and under load that thread and the event loop's
    thread fight over the GIL: the same rows cost the gateway about 15 % more CPU written from the
    thread than from the loop (benchmarks.ledger_overhead). So the writer has a connection of its
    own, used from the loop, in transactions of `_WRITE_CHUNK` rows (a few milliseconds each, like a
    garbage collection), with no busy wait: when another process holds the write lock the writer
    sleeps asynchronously and tries again. Checkpoints, which sync the file, run on aiosqlite's
    thread instead of inside the writer's commits. An in-memory database (tests) has one connection,
    so it is written through aiosqlite.
    """

    bind = _SqliteBinder()

    def __init__(self, engine: AsyncEngine, writer: sa.Engine | None = None):
        super().__init__(engine)
        self._writer = writer
        self._insert_sql = {table.name: self._compiled_insert(table, columns)
                            for table, columns in ((rows, ROW_COLUMNS), (lines, LINE_COLUMNS))}
        self._since_checkpoint = 0

    @classmethod
    def open(cls, url: str) -> SqliteLedgerStore:
        parsed = make_url(url)
        database = parsed.database or ""
        if database in ("", ":memory:"):
            engine = create_async_engine(url, poolclass=StaticPool)
            event.listen(engine.sync_engine, "connect", _pragmas)
            return cls(engine)
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _pragmas)
        writer = sa.create_engine(parsed.set(drivername="sqlite+pysqlite"), pool_size=1, max_overflow=0)
        event.listen(writer, "connect", _writer_pragmas)
        return cls(engine, writer)

    async def _store(self, unique: list[LedgerRow]) -> None:
        if self._writer is None:
            await self._store_through_engine(unique)
            return
        for start in range(0, len(unique), _WRITE_CHUNK):
            if start:
                await asyncio.sleep(0)  # let requests run between transactions
            await self._write_chunk(unique[start:start + _WRITE_CHUNK])
        self._since_checkpoint += len(unique)
        if self._since_checkpoint >= _CHECKPOINT_ROWS:
            self._since_checkpoint = 0
            await self._checkpoint()

    async def _store_through_engine(self, unique: list[LedgerRow]) -> None:
        """An in-memory database's one connection (aiosqlite): one transaction."""
        row_params, line_params = self._params(unique)
        async with self._engine.begin() as conn:
            await conn.exec_driver_sql(self._insert_sql[rows.name], row_params)
            if line_params:
                await conn.exec_driver_sql(self._insert_sql[lines.name], line_params)

    def _compiled_insert(self, table: sa.Table, columns: tuple[str, ...]) -> str:
        """INSERT … ON CONFLICT DO NOTHING, compiled once: the parameters then go to the driver's
        executemany as ready tuples (`exec_driver_sql`), skipping the per-row bind processing that made
        the books cost a third of a request's CPU."""
        compiled = sqlite_insert(table).on_conflict_do_nothing().compile(dialect=self._engine.dialect,
                                                                          column_keys=list(columns))
        if tuple(compiled.positiontup or ()) != columns:  # a dialect with named parameters would need dicts
            raise RuntimeError(f"{table.name}: the compiled INSERT's parameters are not in codec order")
        return compiled.string

    async def _write_chunk(self, chunk: list[LedgerRow]) -> None:
        assert self._writer is not None
        row_params, line_params = self._params(chunk)
        while True:
            try:
                with self._writer.begin() as conn:
                    conn.exec_driver_sql(self._insert_sql[rows.name], row_params)
                    if line_params:
                        conn.exec_driver_sql(self._insert_sql[lines.name], line_params)
                return
            except OperationalError as exc:
                if "locked" not in str(exc):
                    raise
            await asyncio.sleep(_LOCKED_RETRY_SECONDS)  # the caller's write timeout bounds the waiting

    async def _checkpoint(self) -> None:
        try:
            async with self._engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except STORE_ERRORS as exc:  # the rows are stored; a later checkpoint catches up
            log.info("ledger checkpoint skipped: %s", type(exc).__name__)

    async def close(self) -> None:
        await super().close()
        if self._writer is not None:
            self._writer.dispose()

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
