"""Ledger tests run against both stores: an SQLite file, and a real PostgreSQL cluster (one per session)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa

from audio_gateway.ledger.store import LedgerStore

from ..conftest import keyed_client, provider_env
from ..support.server_thread import GatewayServer

T = TypeVar("T")


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


ADMIN_KEY = ("ops", "sk-gw-ops-91e0c2d7")


class UsageGateway:
    """A gateway (real uvicorn on loopback) whose ledger holds DATASET, on one kind of store."""

    def __init__(self, server: Any, database_url: str, kind: str):
        self.server, self.url, self.database_url, self.kind = server, server.url, database_url, kind

    def client(self, name: str) -> httpx.Client:
        if name == ADMIN_KEY[0]:
            return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_KEY[1]}"}, timeout=10)
        return keyed_client(self.url, name)


async def insert_rows(url: str, rows) -> None:
    async with migrated(url) as store:
        await store.write(rows)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def usage_gateway(request, fake_openai, fake_siliconflow, tmp_path_factory):
    from .dataset import DATASET

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('usage') / 'ledger.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database(f"usage_{request.module.__name__.rsplit('.', 1)[-1]}")
    env = provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_DATABASE_URL=url,
                       AUDIO_GATEWAY_ADMIN_KEYS=f"{ADMIN_KEY[0]}:{ADMIN_KEY[1]}")
    server = GatewayServer(env).start()
    run(insert_rows(url, DATASET))
    yield UsageGateway(server, url, request.param)
    server.stop()
