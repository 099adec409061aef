"""Settling reservations off the request path: a job worker settles the reservation a job was admitted
with (its id) when the job's ledger row is written. The row is recorded synchronously; the settle is a
task, awaited at shutdown so none is lost when the worker drains."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..ledger import LedgerRow
from .guard import Limiter

__all__ = ["Settler", "open_settler"]

log = logging.getLogger("audio_gateway.limits")


class Settler:
    def __init__(self, limiter: Limiter):
        self._limiter = limiter
        self._tasks: set[asyncio.Task[None]] = set()

    def row(self, row: LedgerRow) -> None:
        if row.api_key_id is None:   # open mode: no key, nothing reserved
            return
        task = asyncio.get_running_loop().create_task(self._settle(row))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, row: LedgerRow) -> None:
        try:
            await self._limiter.settle(row.id, row.cost_usd)
        except Exception as exc:   # the hold expires on its own; the ledger has the row either way
            log.warning("could not settle the reservation of job %s (%s)", row.id, type(exc).__name__)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


@asynccontextmanager
async def open_settler(limiter: Limiter) -> AsyncIterator[Settler]:
    settler = Settler(limiter)
    try:
        yield settler
    finally:
        await settler.drain()
