"""Jobs that SAQ's sweep aborted and then abandoned: found when read, and put back in the queue.

SAQ re-queues a job whose worker died in three steps: abort it (status `aborting`, off every
list), wait up to 5 s for a worker still running it to stop, then retry it. If the sweeping
worker stops inside that window — a SIGTERM drain cancels its upkeep loops, or it crashes —
the job is left `aborting` (or `aborted`) in no list any worker reads, and nothing would ever
run it again: an accepted job lost. The soak (benchmarks/soak) hits this within a minute.

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


async def rescue(queue: Any, saq_job: Any) -> Literal["requeued", "given_up"] | None:
    """Re-queue ``saq_job`` if it is orphaned (or finish it when it has no attempts left); None otherwise.

    ``queue`` is the API's SAQ Redis queue; a cancelled job never gets here (its record is final).
    """
    if saq_job.status not in _ABANDONED or await queue.redis.exists(saq_job.abort_id):
        return None  # running, queued, finished, or an abort still in flight that a worker will act on
    mark = _mark(saq_job.key)
    if await queue.redis.set(mark, repr(time.time()), nx=True, ex=_MARK_TTL):
        return None  # first sighting: give a live sweeper its chance
    seen = float(await queue.redis.get(mark) or time.time())
    if time.time() - seen < SETTLE_SECONDS:
        return None
    fresh = await queue.job(saq_job.key)
    if fresh is None or fresh.status not in _ABANDONED or not await queue.redis.delete(mark):
        return None  # recovered meanwhile, or another reader is rescuing it
    if fresh.retryable:
        await queue.retry(fresh, "re-queued by the gateway: the sweep that aborted it was interrupted")
        return "requeued"
    if fresh.status == Status.ABORTING:
        await queue.finish(fresh, Status.ABORTED, error=fresh.error or "swept")
    return "given_up"
