"""Jobs that SAQ's sweep aborted and then abandoned: found when read, and put back in the queue.

SAQ re-queues a job whose worker died in three steps: abort it (status `aborting`, off every
list), wait up to 5 s for a worker still running it to stop, then retry it. If the sweeping
worker stops inside that window — a SIGTERM drain cancels its upkeep loops, or it crashes —
the job is left `aborting` (or `aborted`) in no list any worker reads, and nothing would ever
run it again: an accepted job lost. The soak (benchmarks/soak) hits this within a minute.

The same sweep can strand a job a second way: it reads the active list just as a worker moves a job
there, sees it still `queued`, and aborts it (off every list) — and the worker, which dequeued it a
moment before, then writes it `active` over the abort and starts it. Were that worker to stay alive it
would see the abort and stop; killed (the soak's SIGKILL, 1 run in 4), it leaves an `active` job in no
list, its heartbeat lapsing where no sweep looks.

`rescue` runs when the API reads a job that is not final. A job counts as orphaned only when
it looks abandoned twice, `SETTLE_SECONDS` apart, with no abort pending — by then a live
sweeper has long retried it — and only one reader acts on it (the marker is deleted once).
"""

from __future__ import annotations

import time
from typing import Any, Literal

from saq.job import Status

__all__ = ["SETTLE_SECONDS", "rescue"]

SETTLE_SECONDS = 5.0
"""How long a job must stay abandoned between two reads before it is re-queued (> SAQ's 5 s abort wait
has already passed once the abort key expired, so a live sweeper is done well before this)."""
_ABANDONED = (Status.ABORTING, Status.ABORTED)
_MARK_TTL = 600


def _mark(job_key: str) -> str:
    return f"ag:orphan-seen:{job_key}"


async def _looks_abandoned(queue: Any, saq_job: Any) -> bool:
    """Aborted with no worker left to act on it, or active with a lapsed heartbeat in no list a sweep reads."""
    if saq_job.status in _ABANDONED:
        return True
    return (saq_job.status == Status.ACTIVE and saq_job.stuck
            and await queue.redis.lpos(queue.namespace("active"), saq_job.id) is None)


async def rescue(queue: Any, saq_job: Any) -> Literal["requeued", "given_up"] | None:
    """Re-queue ``saq_job`` if it is orphaned (or finish it when it has no attempts left); None otherwise.

    ``queue`` is the API's SAQ Redis queue; a cancelled job never gets here (its record is final).
    """
    if not await _looks_abandoned(queue, saq_job) or await queue.redis.exists(saq_job.abort_id):
        return None  # running, queued, finished, or an abort still in flight that a worker will act on
    mark = _mark(saq_job.key)
    if await queue.redis.set(mark, repr(time.time()), nx=True, ex=_MARK_TTL):
        return None  # first sighting: give a live sweeper its chance
    seen = float(await queue.redis.get(mark) or time.time())
    if time.time() - seen < SETTLE_SECONDS:
        return None
    fresh = await queue.job(saq_job.key)
    if fresh is None or not await _looks_abandoned(queue, fresh) or not await queue.redis.delete(mark):
        return None  # recovered meanwhile, or another reader is rescuing it
    if fresh.retryable:
        await queue.retry(fresh, "re-queued by the gateway: the sweep that aborted it was interrupted")
        return "requeued"
    if fresh.status != Status.ABORTED:
        await queue.finish(fresh, Status.ABORTED, error=fresh.error or "swept")
    return "given_up"
