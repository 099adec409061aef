"""A worker killed mid-job (SIGKILL, no clean-up) loses nothing: SAQ's sweep re-queues, another worker finishes."""

from __future__ import annotations

import httpx

from ..conftest import CLIENT_KEYS
from ..support.server_thread import GatewayServer
from ..support.services import WorkerProcess
from .conftest import jobs_env, wait_for_status


def test_killing_a_worker_mid_job_still_ends_completed(fake_openai, fake_siliconflow, redis_server, s3_server, tmp_path):
    env = jobs_env(fake_openai, fake_siliconflow, redis_server, s3_server, db=1)  # its own queue: no other worker
    gateway = GatewayServer(env).start()
    first = WorkerProcess(env, tmp_path / "first.log")
    second = None
    try:
        with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}) as alice:
            fake_openai.audio_seconds = 3.0
            fake_openai.chunk_size = 4096
            fake_openai.chunk_delay = 0.1   # ~3 s of streaming per attempt: long enough to die in the middle
            job = alice.post("/v1/jobs", json={"model": "tts-1", "voice": "alloy", "input": "Do not lose me.",
                                               "response_format": "wav"}).json()
            fake_openai.wait_for_requests(1, timeout=20)
            assert wait_for_status(alice, job["id"], {"in_progress"})["status"] == "in_progress"
            first.kill()

            second = WorkerProcess(env, tmp_path / "second.log")
            fake_openai.chunk_delay = 0.0
            done = wait_for_status(alice, job["id"], {"completed", "failed"}, timeout=40)
            assert done["status"] == "completed", done
            assert fake_openai.hits >= 2  # the first attempt died with its worker; a second one served it
            assert httpx.get(done["result"]["url"]).status_code == 200
    finally:
        if second is not None:
            second.stop()
        first.stop() if first.process.poll() is None else None
        gateway.stop()
