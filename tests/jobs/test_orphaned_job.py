"""A job an interrupted SAQ sweep left in no queue is found when it is read, re-queued and finished — not lost.

The soak (benchmarks/soak) found it: a worker dies mid-job, another worker's sweep aborts the job (step one of
SAQ's re-queue), and that worker is itself drained by SIGTERM before step three (retry). The job then sits
`aborting` in no list; the record says in progress forever. Here the sweep is played by hand, step one only.
"""

from __future__ import annotations

import asyncio

from saq import Queue
from saq.job import Status

from audio_gateway.jobs import orphans

from ..conftest import keyed_client
from ..support.server_thread import GatewayServer
from ..support.services import WorkerProcess
from .conftest import jobs_env, wait_for_status

DB = 11  # its own queue: no other worker sweeps or runs it


async def _abandon_like_an_interrupted_sweep(queue_url: str) -> None:
    queue = Queue.from_url(queue_url, name="audio-gateway")
    await queue.connect()
    try:
        job = await queue.dequeue()  # a worker took the job ...
        assert job is not None
        job.attempts += 1
        await job.update(status=Status.ACTIVE)  # ... started it, and died
        await queue.abort(job, "swept")  # a sweep's first step; the sweeping worker then stopped
        await queue.redis.delete(job.abort_id)  # as if its 5 s abort window had passed
    finally:
        await queue.disconnect()


def test_a_job_abandoned_by_an_interrupted_sweep_is_requeued_and_completes(
        fake_openai, fake_siliconflow, redis_server, s3_server, tmp_path, monkeypatch):
    monkeypatch.setattr(orphans, "SETTLE_SECONDS", 0.3)
    env = jobs_env(fake_openai, fake_siliconflow, redis_server, s3_server, db=DB)
    gateway = GatewayServer(env).start()
    worker = None
    try:
        with keyed_client(gateway.url, "alice") as alice:
            job = alice.post("/v1/jobs", json={"model": "tts-1", "voice": "alloy", "input": "Find me."}).json()
            asyncio.run(_abandon_like_an_interrupted_sweep(redis_server.url(DB)))

            worker = WorkerProcess(env, tmp_path / "worker.log")
            done = wait_for_status(alice, job["id"], {"completed", "failed", "cancelled"}, timeout=30)
            assert done["status"] == "completed", done
    finally:
        if worker is not None:
            worker.stop()
        gateway.stop()
