"""`LedgerStore`: where ledger rows live, behind one small ABC (SQLite or PostgreSQL, picked by URL).

Every query is written once, here, in SQLAlchemy Core; a backend only supplies what its SQL cannot
share: how a batch is written idempotently, epoch seconds of a timestamp, an exact sum, and how
migrations are serialised between processes starting at once (template methods, as saq's Queue does).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import migrate
from .codec import Binder, line_values, row_from_db, row_values
from .model import LedgerRow
from .queries import RowCursor, RowFilter, RowPage, Total, TotalsQuery
from .schema import lines, rows

__all__ = ["LedgerStore", "StoreUnavailable", "STORE_ERRORS", "normalise_url"]

# What an unreachable or failing database raises through SQLAlchemy (and the OS, for a missing socket).
STORE_ERRORS: tuple[type[Exception], ...] = (sa.exc.DBAPIError, sa.exc.TimeoutError, OSError, TimeoutError)


class StoreUnavailable(RuntimeError):
    """The ledger database could not be reached or refused the operation."""


def normalise_url(url: str) -> str:
    """`postgresql://` / `postgres://` → asyncpg, `sqlite://` → aiosqlite; async URLs pass unchanged."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r} (expected sqlite:///PATH or postgresql://...)")
    base = scheme.split("+", 1)[0].lower()
    if base in ("postgresql", "postgres"):
        if "+" in scheme and scheme.lower() != "postgresql+asyncpg":
            raise ValueError(f"PostgreSQL URLs use the asyncpg driver; write postgresql://{rest.split('@')[-1]}")
        return f"postgresql+asyncpg://{rest}"
    if base == "sqlite":
        if "+" in scheme and scheme.lower() != "sqlite+aiosqlite":
            raise ValueError("SQLite URLs use the aiosqlite driver; write sqlite:///PATH")
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(f"unsupported database URL scheme {scheme!r}: use sqlite:///PATH or postgresql://...")


class LedgerStore(ABC):
    bind: Binder  # how this backend's driver takes exact decimals and UTC times (codec.row_values)

    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    @classmethod
    def from_url(cls, url: str) -> LedgerStore:
        normalised = normalise_url(url)
        if normalised.startswith("postgresql"):
            from .postgres import PostgresLedgerStore

            return PostgresLedgerStore.open(normalised)
        from .sqlite import SqliteLedgerStore

        return SqliteLedgerStore.open(normalised)

    @property
    def engine(self) -> AsyncEngine:
        """The engine, for the tables that share the ledger's database (keys/store.py)."""
        return self._engine

    @property
    def url(self) -> str:
        """The URL with its password hidden: safe for logs."""
        return make_url(str(self._engine.url)).render_as_string(hide_password=True)

    # -- backend hooks -------------------------------------------------------------------------------

    @abstractmethod
    async def _store(self, unique: list[LedgerRow]) -> None:
        """Write rows with distinct ids and their lines in one transaction; a row whose id is stored
        already is skipped with its lines (so a row written twice counts once)."""

    @abstractmethod
    def _epoch(self, column: sa.ColumnElement[datetime]) -> sa.ColumnElement[int]:
        """Whole Unix seconds (floored) of a timestamp column."""

    @abstractmethod
    def _exact_sum(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """An aggregate whose value `_read_sum` turns into the exact Decimal sum."""

    @abstractmethod
    def _read_sum(self, value: Any) -> Decimal: ...

    @abstractmethod
    async def _lock_migrations(self, conn: AsyncConnection) -> None:
        """Hold, until the transaction ends, a lock that another process migrating must wait for."""

    # -- schema --------------------------------------------------------------------------------------

    async def upgrade(self) -> str:
        """Apply pending migrations (serialised across processes); returns the revision now current."""
        async with self._engine.begin() as conn:
            await self._lock_migrations(conn)
            return await conn.run_sync(migrate.upgrade)

    async def revision(self) -> str | None:
        async with self._engine.connect() as conn:
            return await conn.run_sync(migrate.current_revision)

    async def check_schema(self) -> None:
        """Raise `SchemaBehind` unless the database is at the revision this code expects."""
        current, head = await self.revision(), migrate.head_revision()
        if current != head:
            raise migrate.SchemaBehind(
                f"the ledger database {self.url} is at revision {current or 'none'}, this gateway needs {head}: "
                "run `audio-gateway db upgrade` (or leave AUDIO_GATEWAY_DB_AUTO_UPGRADE on)")

    # -- writing -------------------------------------------------------------------------------------

    async def write(self, batch: Sequence[LedgerRow]) -> None:
        """Store rows; rows whose id is already stored are skipped (idempotent)."""
        unique = list({row.id: row for row in batch}.values())
        if unique:
            await self._store(unique)

    def _params(self, unique: Sequence[LedgerRow]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Every row and every line as a positional tuple in its table's column order (codec.py)."""
        bind = self.bind
        return ([row_values(row, bind) for row in unique],
                [line for row in unique for line in line_values(row, bind)])

    # -- reading -------------------------------------------------------------------------------------

    async def get(self, row_id: str) -> LedgerRow | None:
        async with self._engine.connect() as conn:
            found = await self._with_lines(conn, (await conn.execute(sa.select(rows).where(rows.c.id == row_id))).mappings().all())
        return found[0] if found else None

    async def list_rows(self, where: RowFilter, *, limit: int, before: RowCursor | None = None) -> RowPage:
        """Rows newest first, `limit` at a time; pass the page's `next` as `before` for the next page."""
        statement = sa.select(rows).where(*self._row_filter(where))
        if before is not None:
            statement = statement.where(sa.or_(
                rows.c.created_at < before.created_at,
                sa.and_(rows.c.created_at == before.created_at, rows.c.id < before.id)))
        statement = statement.order_by(rows.c.created_at.desc(), rows.c.id.desc()).limit(limit + 1)
        async with self._engine.connect() as conn:
            found = await self._with_lines(conn, (await conn.execute(statement)).mappings().all())
        page, more = found[:limit], len(found) > limit
        return RowPage(rows=tuple(page), next=RowCursor(page[-1].created_at, page[-1].id) if more else None)

    async def spend_since(self, api_key_id: str | None, since: datetime) -> Decimal:
        """What one key (None: the open, keyless mode) has been charged since `since`, exactly."""
        key = rows.c.api_key_id.is_(None) if api_key_id is None else rows.c.api_key_id == api_key_id
        statement = sa.select(self._exact_sum(rows.c.cost_usd)).where(key, rows.c.created_at >= since)
        async with self._engine.connect() as conn:
            return self._read_sum((await conn.execute(statement)).scalar_one())

    async def totals(self, query: TotalsQuery) -> list[Total]:
        """Sums per bucket and group, in bucket then group order (see queries.TotalsQuery)."""
        statement, fields = self._totals_statement(query)
        async with self._engine.connect() as conn:
            result = (await conn.execute(statement)).mappings().all()
        totals = [self._total(record, fields) for record in result]
        return sorted(totals, key=lambda t: (t.bucket, t.model or "", t.api_key_id or "", t.provider or "", t.unit or ""))

    async def ping(self) -> bool:
        try:
            async with self._engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            return True
        except STORE_ERRORS:
            return False

    async def close(self) -> None:
        await self._engine.dispose()

    # -- query building ------------------------------------------------------------------------------

    @staticmethod
    def _row_filter(where: RowFilter) -> list[sa.ColumnElement[bool]]:
        clauses = []
        if where.api_key_id is not None:
            clauses.append(rows.c.api_key_id == where.api_key_id)
        if where.model is not None:
            clauses.append(rows.c.model_served == where.model)
        if where.status is not None:
            clauses.append(rows.c.status == where.status)
        if where.kind is not None:
            clauses.append(rows.c.kind == where.kind)
        if where.since is not None:
            clauses.append(rows.c.created_at >= where.since)
        return clauses

    async def _with_lines(self, conn: AsyncConnection, records: Sequence[Any]) -> list[LedgerRow]:
        if not records:
            return []
        ids = [record["id"] for record in records]
        found = (await conn.execute(sa.select(lines).where(lines.c.row_id.in_(ids)))).mappings().all()
        by_row: dict[str, list[Any]] = {}
        for line in found:
            by_row.setdefault(line["row_id"], []).append(line)
        return [row_from_db(record, by_row.get(record["id"], [])) for record in records]

    def _totals_statement(self, q: TotalsQuery) -> tuple[sa.Select[Any], tuple[str, ...]]:
        model = sa.func.coalesce(rows.c.model_served, rows.c.model_requested)
        # Integers written into the SQL, not bound: the GROUP BY must repeat the very same expression
        # (PostgreSQL sees two bound parameters as two different expressions).
        start = sa.literal_column(str(int(q.start.timestamp())), sa.BigInteger)
        width = sa.literal_column(str(int(q.bucket_seconds)), sa.BigInteger)
        bucket = (self._epoch(rows.c.created_at) - start) // width
        by_line = "line_item" in q.group_by
        if by_line:  # a line served by another model than the row's (a job's fallback pieces) counts there
            model = sa.func.coalesce(lines.c.model, rows.c.model_served, rows.c.model_requested)
        keys: list[sa.ColumnElement[Any]] = [bucket.label("bucket")]
        if "model" in q.group_by or by_line:
            keys.append(model.label("model"))
        if "api_key_id" in q.group_by:
            keys.append(rows.c.api_key_id.label("api_key_id"))
        if "provider" in q.group_by:
            keys.append(rows.c.provider.label("provider"))
        source: sa.FromClause = rows
        measures: list[sa.ColumnElement[Any]]
        if by_line:
            keys.append(lines.c.unit.label("unit"))
            source = rows.join(lines, lines.c.row_id == rows.c.id)
            measures = [sa.func.count(sa.distinct(rows.c.id)).label("requests"),
                        self._exact_sum(lines.c.cost_usd).label("cost_usd"),
                        self._exact_sum(lines.c.quantity).label("quantity")]
        else:
            measures = [sa.func.count().label("requests"),
                        sa.func.sum(rows.c.characters).label("characters"),
                        sa.func.sum(rows.c.whole_seconds).label("seconds"),
                        self._exact_sum(rows.c.audio_seconds).label("audio_seconds"),
                        self._exact_sum(rows.c.cost_usd).label("cost_usd")]
        where = [rows.c.created_at >= q.start, rows.c.created_at < q.end]
        if q.kinds:
            where.append(rows.c.kind.in_(q.kinds))
        if q.models:
            where.append(model.in_(q.models))
        if q.api_key_ids:
            where.append(rows.c.api_key_id.in_(q.api_key_ids))
        if q.statuses:
            where.append(rows.c.status.in_(q.statuses))
        if q.fell_back is not None:
            where.append(rows.c.fell_back == q.fell_back)
        statement = sa.select(*keys, *measures).select_from(source).where(*where).group_by(*keys)
        return statement, tuple(str(c.key) for c in (*keys, *measures))

    def _total(self, record: Any, fields: tuple[str, ...]) -> Total:
        values: dict[str, Any] = {name: record[name] for name in fields}
        for name in ("cost_usd", "audio_seconds", "quantity"):
            if name in values:
                values[name] = self._read_sum(values[name])
        for name in ("bucket", "requests", "characters", "seconds"):
            if name in values:
                values[name] = int(values[name] or 0)
        return Total(**values)
