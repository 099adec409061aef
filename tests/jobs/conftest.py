"""Job tests: real redis-server, real S3 (moto_server) and real worker processes, all on loopback."""

from __future__ import annotations

import time

import httpx
import pytest

from ..conftest import keyed_client, provider_env
from ..support.server_thread import GatewayServer
from ..support.services import MotoS3Server, WorkerProcess

BUCKET = "audio-gateway-jobs"
INBOX = "inbox/"
"""A prefix outside the job prefix (test/) that s3:// file_urls may name (AUDIO_GATEWAY_S3_READ_ALLOW)."""


@pytest.fixture(scope="session")
def s3_server():
    server = MotoS3Server()
    server.create_bucket(BUCKET)
    yield server
    server.stop()


def jobs_env(fake_openai, fake_siliconflow, redis_server, s3_server, db: int = 0, **overrides: str) -> dict[str, str]:
    jobs = dict(
        AUDIO_GATEWAY_QUEUE_URL=redis_server.url(db),
        AUDIO_GATEWAY_S3_BUCKET=BUCKET,
        AUDIO_GATEWAY_S3_PREFIX="test/",
        AWS_ENDPOINT_URL=s3_server.url,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AUDIO_GATEWAY_PRESIGN_EXPIRY="120",
        AUDIO_GATEWAY_JOB_HEARTBEAT="2",
        AUDIO_GATEWAY_WORKER_SWEEP="1",
        AUDIO_GATEWAY_JOB_RETRY_DELAY="0.2",
        AUDIO_GATEWAY_JOB_RETRY_BACKOFF_CAP="1",
        AUDIO_GATEWAY_UPSTREAM_TIMEOUT="1",
        AUDIO_GATEWAY_S3_READ_ALLOW=INBOX,
    )
    return provider_env(fake_openai, fake_siliconflow, **{**jobs, **overrides})


@pytest.fixture(scope="session")
def jobs_gateway(fake_openai, fake_siliconflow, redis_server, s3_server, tmp_path_factory):
    env = jobs_env(fake_openai, fake_siliconflow, redis_server, s3_server)
    server = GatewayServer(env).start()
    worker = WorkerProcess(env, tmp_path_factory.mktemp("worker") / "worker.log")
    yield server
    worker.stop()
    server.stop()


@pytest.fixture
def alice(jobs_gateway):
    with keyed_client(jobs_gateway.url, "alice") as http:
        yield http


@pytest.fixture
def bob(jobs_gateway):
    with keyed_client(jobs_gateway.url, "bob") as http:
        yield http


def wait_for_status(http: httpx.Client, job_id: str, statuses: set[str], timeout: float = 30.0) -> dict:
    """Poll GET /v1/jobs/{id} (the public API offers no push) until the job reaches one of `statuses`."""
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = http.get(f"/v1/jobs/{job_id}").json()
        if body.get("status") in statuses:
            return body
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not reach {statuses} in {timeout}s; last: {body}")
