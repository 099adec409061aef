"""Ledger tests run against both stores: an SQLite file, and a real PostgreSQL cluster (one per session)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TypeVar

import pytest
import sqlalchemy as sa

from audio_gateway.ledger.store import LedgerStore

from ..support.services import PostgresServer

T = TypeVar("T")


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres_ledger_url(postgres_server) -> str:
    """One migrated PostgreSQL database for the session (creating one per test costs a second each)."""
    return postgres_server.create_database("ledger")


async def _empty(url: str) -> None:
    async with migrated(url) as store:
        async with store._engine.begin() as conn:
            await conn.execute(sa.text("TRUNCATE ledger_lines, ledger_rows"))


def empty_database_url(kind: str, request: pytest.FixtureRequest, tmp_path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("postgres_ledger_url")
    run(_empty(url))
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """An empty ledger database of each kind: a new SQLite file, or the session's PostgreSQL one emptied."""
    return empty_database_url(request.param, request, tmp_path)


def run(awaitable: Awaitable[T]) -> T:
    return asyncio.run(awaitable)  # type: ignore[arg-type]


@asynccontextmanager
async def migrated(url: str) -> AsyncIterator[LedgerStore]:
    store = LedgerStore.from_url(url)
    try:
        await store.upgrade()
        yield store
    finally:
        await store.close()
