"""SIGTERM drains a worker: no new jobs are taken, running ones finish within the grace period, and a job
still running when it ends is re-queued (never lost) and finished by the next worker."""

from __future__ import annotations

import httpx
import pytest

from ..conftest import CLIENT_KEYS
from ..support.server_thread import GatewayServer
from ..support.services import WorkerProcess
from .conftest import jobs_env, wait_for_status

SPEECH_JOB = {"model": "tts-1", "voice": "alloy", "input": "Let me finish.", "response_format": "wav"}


def _slow_speech(fake_openai) -> None:
    fake_openai.audio_seconds = 3.0
    fake_openai.chunk_size = 4096
    fake_openai.chunk_delay = 0.1    # ~3 s of streaming: SIGTERM lands in the middle


class Cluster:
    """A gateway and workers on their own Redis db; `start_worker()` adds one, all are stopped at the end."""

    def __init__(self, env: dict[str, str], tmp_path) -> None:
        self.env = env
        self.tmp_path = tmp_path
        self.gateway = GatewayServer(env).start()
        self.workers: list[WorkerProcess] = []
        self.alice = httpx.Client(base_url=self.gateway.url, headers={"Authorization": f"Bearer {CLIENT_KEYS['alice']}"})

    def start_worker(self) -> WorkerProcess:
        worker = WorkerProcess(self.env, self.tmp_path / f"worker-{len(self.workers)}.log")
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        self.alice.close()
        for worker in self.workers:
            worker.stop()
        self.gateway.stop()


@pytest.fixture
def cluster(fake_openai, fake_siliconflow, redis_server, s3_server, tmp_path, request):
    grace, db = request.param
    env = jobs_env(fake_openai, fake_siliconflow, redis_server, s3_server, db=db, AUDIO_GATEWAY_SHUTDOWN_GRACE=grace)
    running = Cluster(env, tmp_path)
    yield running
    running.stop()


@pytest.mark.parametrize("cluster", [("20", 2)], indirect=True)
def test_sigterm_lets_the_running_job_finish_and_takes_no_new_one(cluster, fake_openai):
    first = cluster.start_worker()
    _slow_speech(fake_openai)
    running = cluster.alice.post("/v1/jobs", json=SPEECH_JOB).json()
    fake_openai.wait_for_requests(1, timeout=20)
    first.process.terminate()
    waiting = cluster.alice.post("/v1/jobs", json=SPEECH_JOB).json()   # accepted while the worker drains

    assert first.process.wait(15) == 0
    done = cluster.alice.get(f"/v1/jobs/{running['id']}").json()
    assert done["status"] == "completed", done
    assert fake_openai.hits == 1                                        # finished in place, not re-run
    assert cluster.alice.get(f"/v1/jobs/{waiting['id']}").json()["status"] == "queued"

    fake_openai.chunk_delay = 0.0
    cluster.start_worker()
    assert wait_for_status(cluster.alice, waiting["id"], {"completed", "failed"})["status"] == "completed"


@pytest.mark.parametrize("cluster", [("0.3", 3)], indirect=True)
def test_a_job_still_running_after_the_grace_period_is_requeued_and_finished_elsewhere(cluster, fake_openai):
    first = cluster.start_worker()
    _slow_speech(fake_openai)
    job = cluster.alice.post("/v1/jobs", json=SPEECH_JOB).json()
    fake_openai.wait_for_requests(1, timeout=20)
    assert first.terminate() == 0                                       # well before the 3 s stream ends
    requeued = cluster.alice.get(f"/v1/jobs/{job['id']}").json()
    assert requeued["status"] == "queued", requeued

    fake_openai.chunk_delay = 0.0
    cluster.start_worker()
    done = wait_for_status(cluster.alice, job["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    assert fake_openai.hits == 2
    assert httpx.get(done["result"]["url"]).status_code == 200
