"""SIGTERM drains a worker: no new jobs are taken, running ones finish within the grace period, and a job
still running when it ends is re-queued (never lost) and finished by the next worker."""

from __future__ import annotations

import httpx

from ..conftest import CLIENT_KEYS
from ..support.server_thread import GatewayServer
from ..support.services import WorkerProcess
from .conftest import jobs_env, wait_for_status

SPEECH_JOB = {"model": "tts-1", "voice": "alloy", "input": "Let me finish.", "response_format": "wav"}


def _slow_speech(fake_openai) -> None:
    fake_openai.audio_seconds = 3.0
    fake_openai.chunk_size = 4096
    fake_openai.chunk_delay = 0.1    # ~3 s of streaming: SIGTERM lands in the middle


def _client(gateway: GatewayServer) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {CLIENT_KEYS['alice']}"})


def test_sigterm_lets_the_running_job_finish_and_takes_no_new_one(fake_openai, fake_siliconflow, redis_server,
                                                                  s3_server, tmp_path):
    env = jobs_env(fake_openai, fake_siliconflow, redis_server, s3_server, db=2, AUDIO_GATEWAY_SHUTDOWN_GRACE="20")
    gateway = GatewayServer(env).start()
    first = WorkerProcess(env, tmp_path / "first.log")
    second = None
    try:
        with _client(gateway) as alice:
            _slow_speech(fake_openai)
            running = alice.post("/v1/jobs", json=SPEECH_JOB).json()
            fake_openai.wait_for_requests(1, timeout=20)
            first.process.terminate()
            waiting = alice.post("/v1/jobs", json=SPEECH_JOB).json()   # accepted while the worker drains

            assert first.process.wait(15) == 0
            done = alice.get(f"/v1/jobs/{running['id']}").json()
            assert done["status"] == "completed", done
            assert fake_openai.hits == 1                                 # finished in place, not re-run
            assert alice.get(f"/v1/jobs/{waiting['id']}").json()["status"] == "queued"

            fake_openai.chunk_delay = 0.0
            second = WorkerProcess(env, tmp_path / "second.log")
            assert wait_for_status(alice, waiting["id"], {"completed", "failed"})["status"] == "completed"
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.stop()
        gateway.stop()


def test_a_job_still_running_after_the_grace_period_is_requeued_and_finished_elsewhere(
        fake_openai, fake_siliconflow, redis_server, s3_server, tmp_path):
    env = jobs_env(fake_openai, fake_siliconflow, redis_server, s3_server, db=3, AUDIO_GATEWAY_SHUTDOWN_GRACE="0.3")
    gateway = GatewayServer(env).start()
    first = WorkerProcess(env, tmp_path / "first.log")
    second = None
    try:
        with _client(gateway) as alice:
            _slow_speech(fake_openai)
            job = alice.post("/v1/jobs", json=SPEECH_JOB).json()
            fake_openai.wait_for_requests(1, timeout=20)
            assert first.terminate() == 0                               # well before the 3 s stream ends
            requeued = alice.get(f"/v1/jobs/{job['id']}").json()
            assert requeued["status"] == "queued", requeued

            fake_openai.chunk_delay = 0.0
            second = WorkerProcess(env, tmp_path / "second.log")
            done = wait_for_status(alice, job["id"], {"completed", "failed"})
            assert done["status"] == "completed", done
            assert fake_openai.hits == 2
            assert httpx.get(done["result"]["url"]).status_code == 200
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.stop()
        gateway.stop()
