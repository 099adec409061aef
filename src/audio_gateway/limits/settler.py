"""Settling reservations off the request path: a job worker settles the reservation a job was admitted
with (its id) when the job's ledger row is written, or releases it when a cancelled job ends without a row.
The row is recorded synchronously; the settle is a task, awaited at shutdown so none is lost when the
worker drains."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

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
        self._spawn(self._settle(row.id, row.cost_usd))

    def release(self, job_id: str) -> None:
        """The job ended with no row (cancelled before anything was produced): nothing is owed."""
        self._spawn(self._settle(job_id, None))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, job_id: str, cost: Decimal | None) -> None:
        try:
            if cost is None:
                await self._limiter.release(job_id)
            else:
                await self._limiter.settle(job_id, cost)
        except Exception as exc:   # the hold expires on its own; the ledger has the row either way
            log.warning("could not settle the reservation of job %s (%s)", job_id, type(exc).__name__)

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
