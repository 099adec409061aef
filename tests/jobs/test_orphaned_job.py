"""A job an interrupted SAQ sweep left in no queue is found when it is read, re-queued and finished — not lost.

The soak (benchmarks/soak) found it: a worker dies mid-job, another worker's sweep aborts the job (step one of
SAQ's re-queue), and that worker is itself drained by SIGTERM before step three (retry). The job then sits
`aborting` in no list; the record says in progress forever. Here the sweep is played by hand, step one only.

The second way, also the soak's: the sweep aborts a job a worker has just dequeued (it still reads `queued`),
the worker writes it `active` over the abort, and is SIGKILLed: `active` in no list, its heartbeat lapsed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from saq import Queue
from saq.job import Status
from saq.utils import now

from audio_gateway.jobs import orphans

from ..conftest import keyed_client
from ..support.server_thread import GatewayServer
from ..support.services import WorkerProcess
from .conftest import jobs_env, wait_for_status

DB = 11  # its own queue: no other worker sweeps or runs it


async def _abandon_like_an_interrupted_sweep(queue: Queue) -> None:
    job = await queue.dequeue()  # a worker took the job ...
    assert job is not None
    job.attempts += 1
    await job.update(status=Status.ACTIVE)  # ... started it, and died
    await queue.abort(job, "swept")  # a sweep's first step; the sweeping worker then stopped
    await queue.redis.delete(job.abort_id)  # as if its 5 s abort window had passed


async def _abort_as_it_is_dequeued(queue: Queue) -> None:
    job = await queue.dequeue()  # a worker moved the job to the active list, its record still `queued` ...
    assert job is not None
    await queue.abort(job, "swept")  # ... a sweep saw it so and aborted it, off every list ...
    await queue.redis.delete(job.abort_id)
    job.attempts += 1  # ... the worker wrote it `active` over the abort, and was killed long enough ago
    job.status, job.started = Status.ACTIVE, now()
    job.touched = now() - int((job.heartbeat + 1) * 1000)  # that its heartbeat has lapsed
    await queue.redis.set(job.id, queue.serialize(job))


def _played(queue_url: str, strand: Callable[[Queue], Awaitable[None]]) -> None:
    async def play() -> None:
        queue = Queue.from_url(queue_url, name="audio-gateway")
        await queue.connect()
        try:
            await strand(queue)
        finally:
            await queue.disconnect()

    asyncio.run(play())


@pytest.mark.parametrize("strand", [_abandon_like_an_interrupted_sweep, _abort_as_it_is_dequeued],
                         ids=["aborting-after-an-interrupted-sweep", "active-in-no-list"])
def test_a_job_stranded_by_a_sweep_is_requeued_and_completes(
        fake_openai, fake_siliconflow, redis_server, s3_server, tmp_path, monkeypatch, strand):
    monkeypatch.setattr(orphans, "SETTLE_SECONDS", 0.3)
    env = jobs_env(fake_openai, fake_siliconflow, redis_server, s3_server, db=DB)
    gateway = GatewayServer(env).start()
    worker = None
    try:
        with keyed_client(gateway.url, "alice") as alice:
            job = alice.post("/v1/jobs", json={"model": "tts-1", "voice": "alloy", "input": "Find me."}).json()
            _played(redis_server.url(DB), strand)

            worker = WorkerProcess(env, tmp_path / "worker.log")
            done = wait_for_status(alice, job["id"], {"completed", "failed", "cancelled"}, timeout=30)
            assert done["status"] == "completed", done
    finally:
        if worker is not None:
            worker.stop()
        gateway.stop()
