"""Stopping a worker without losing or stranding a job.

On SIGTERM/SIGINT a worker drains: it takes no new job, lets the running ones finish
within the grace period, and SAQ cancels and re-queues whatever is still running after
it. SAQ's own signal handling does most of this, but two gaps are closed here:

- an idle slot blocked in Redis (BLMOVE) would still take a job that arrives while the
  worker drains: `DrainingQueue` hands such a job straight back to the queue;
- SAQ's upkeep loops (sweep, worker info) sleep their full interval before noticing
  the stop, holding every idle worker that long: they are cancelled at once, except
  that a sweep already re-queueing a job is let finish (cut short, it strands the job).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from saq import Worker
from saq.queue.redis import RedisQueue

__all__ = ["DrainingQueue", "run_worker"]

log = logging.getLogger("audio_gateway.jobs")


class DrainingQueue(RedisQueue):
    """A Redis queue that a stopping worker closes to new work."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.draining = False
        self._sweeps = 0
        self._no_sweep = asyncio.Event()
        self._no_sweep.set()

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        """SAQ's sweep re-queues in steps (abort, wait, retry); cut in the middle it strands the job,
        so a stopping worker starts none and lets a running one finish (see `run_worker`)."""
        if self.draining:
            return []
        self._sweeps += 1
        self._no_sweep.clear()
        try:
            return await super().sweep(lock, abort)
        finally:
            self._sweeps -= 1
            if not self._sweeps:
                self._no_sweep.set()

    async def sweep_finished(self) -> None:
        await self._no_sweep.wait()

    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Any:
        if self.draining:
            return None
        job = await super().dequeue(timeout, poll_interval)
        if job is not None and self.draining:  # arrived while we were stopping: not ours to start
            await self.retry(job, "handed back: the worker was stopping")
            return None
        return job


async def run_worker(worker: Worker) -> None:
    """Run `worker` until SIGTERM/SIGINT, then drain it (its queue must be a `DrainingQueue`)."""
    worker.SIGNALS = []  # ours, below, replace SAQ's
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task] = []

    queue = worker.queue
    if not isinstance(queue, DrainingQueue):
        raise TypeError("run_worker needs a worker built on a DrainingQueue")

    def drain() -> None:
        if getattr(worker, "event", None) is None:  # signalled before SAQ started: nothing runs yet
            raise SystemExit(0)
        log.info("worker stopping: taking no new jobs, %d running", len(worker.job_task_contexts))
        queue.draining = True
        worker.event.set()
        upkeep = [task for task in worker.tasks if task.get_name() != "process"]
        stopping.append(loop.create_task(_stop_upkeep(queue, upkeep)))

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, drain)
    try:
        await worker.start()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def _stop_upkeep(queue: DrainingQueue, upkeep: list[asyncio.Task]) -> None:
    """Upkeep loops sleep their full interval before noticing a stop: end them now, once no sweep
    is halfway through re-queueing a job."""
    await queue.sweep_finished()
    for task in upkeep:
        task.cancel()
