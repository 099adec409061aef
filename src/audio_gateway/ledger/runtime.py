"""`open_ledger(settings)`: the store and its writer, opened once per process and closed together.

The API server's lifespan and each job worker open one. Request code records finished rows into
`ledger.sink`; readers (the usage API, the CLI) query `ledger.store`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from ..settings import Settings
from .migrate import SchemaBehind
from .model import RowSink
from .sqlite import sqlite_url
from .store import STORE_ERRORS, LedgerStore
from .writer import LedgerWriter

__all__ = ["Ledger", "open_ledger", "ledger_url", "spill_dir", "utc_now"]

log = logging.getLogger("audio_gateway.ledger")


def utc_now() -> datetime:
    return datetime.now(UTC)


def ledger_url(settings: Settings) -> str:
    """AUDIO_GATEWAY_DATABASE_URL, or the embedded SQLite file `<data_dir>/ledger.db`."""
    if settings.database_url:
        return settings.database_url
    return sqlite_url((settings.data_dir / "ledger.db").absolute())


def spill_dir(settings: Settings) -> Path:
    return (settings.data_dir / "ledger-spill").absolute()


class Ledger(msgspec.Struct, frozen=True, kw_only=True):
    """What a process holds of the ledger: record into `sink`, read from `store`."""

    sink: RowSink
    writer: LedgerWriter
    store: LedgerStore
    clock: Callable[[], datetime] = utc_now   # "now" for readers (default end of a usage range)


async def _prepare(store: LedgerStore, settings: Settings) -> None:
    if settings.db_auto_upgrade:
        revision = await store.upgrade()
        log.info("ledger database %s at revision %s", store.url, revision)
    else:
        await store.check_schema()


@asynccontextmanager
async def open_ledger(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> AsyncIterator[Ledger]:
    """Migrate (unless AUDIO_GATEWAY_DB_AUTO_UPGRADE=off), start the writer; on exit drain it, then close.

    A database that is unreachable at start-up does not stop the process: rows spill until it is back,
    and the writer migrates (or checks) it before its first write. A schema that is behind while
    upgrades are off does stop it (`SchemaBehind`): that needs an operator.
    """
    store = LedgerStore.from_url(ledger_url(settings))
    pending: Callable[[], Awaitable[None]] | None = None
    try:
        await _prepare(store, settings)
    except SchemaBehind:
        await store.close()
        raise
    except STORE_ERRORS as exc:
        log.warning("ledger database %s unreachable at start-up (%s); rows spill to %s until it is back",
                    store.url, type(exc).__name__, spill_dir(settings))

        async def later() -> None:
            await _prepare(store, settings)

        pending = later
    writer = LedgerWriter(store, spill_dir(settings), flush_interval=settings.ledger_flush_seconds,
                          prepare=pending)
    await writer.start()
    try:
        yield Ledger(sink=writer, writer=writer, store=store, clock=clock)
    finally:
        try:
            await writer.aclose()
        finally:
            await store.close()
