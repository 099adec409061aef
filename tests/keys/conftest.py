"""Key tests: the store against SQLite and PostgreSQL, gateways with database keys, and the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from audio_gateway.keys.store import KeyStore
from audio_gateway.ledger.store import LedgerStore


@pytest.fixture(scope="session")
def postgres_keys_url(postgres_server) -> str:
    return postgres_server.create_database("keys")


async def _empty(url: str) -> None:
    async with opened(url) as (ledger, _):
        async with ledger.engine.begin() as conn:
            await conn.execute(sa.text("DELETE FROM gateway_keys"))
            await conn.execute(sa.text("DELETE FROM ledger_lines"))
            await conn.execute(sa.text("DELETE FROM ledger_rows"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """An empty, migrated database of each kind (the session's PostgreSQL one emptied)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("postgres_keys_url")
    asyncio.run(_empty(url))
    return url


@asynccontextmanager
async def opened(url: str) -> AsyncIterator[tuple[LedgerStore, KeyStore]]:
    ledger = LedgerStore.from_url(url)
    keys = KeyStore(ledger.engine)
    try:
        await ledger.upgrade()
        yield ledger, keys
    finally:
        await keys.close()
        await ledger.close()


class Clock:
    """An injectable "now" a test moves forward instead of sleeping."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime.now(UTC)   # ledger rows carry real times: start from the real now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
