"""Redis or S3 unreachable: the jobs API answers 503 in OpenAI's shape, and a failed submission leaves nothing behind.

Each test starts its own gateway whose queue or storage points at a loopback port nobody listens on; the
session's healthy gateway (same Redis database) then shows what was, and was not, kept.
"""

from __future__ import annotations

import socket
import uuid

import pytest
import redis

from audio_gateway.jobs.store import CLAIM_SECONDS

from ..audio_samples import make_wav
from ..conftest import keyed_client
from ..support.server_thread import GatewayServer
from .conftest import jobs_env

SPEECH = {"model": "tts-1", "voice": "alloy", "input": "Nobody is listening."}


def _dead_port() -> int:
    """A loopback port that refuses connections (bound to find it, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def outage_gateway(fake_openai, fake_siliconflow, redis_server, s3_server):
    servers: list[GatewayServer] = []

    def start(**overrides: str) -> GatewayServer:
        server = GatewayServer(jobs_env(fake_openai, fake_siliconflow, redis_server, s3_server, **overrides)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _assert_unavailable(response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "service_unavailable" and error["code"] == "jobs_unavailable"


def test_redis_down_is_a_503_on_every_jobs_route(outage_gateway):
    server = outage_gateway(AUDIO_GATEWAY_QUEUE_URL=f"redis://127.0.0.1:{_dead_port()}/0")
    with keyed_client(server.url, "alice") as alice:
        _assert_unavailable(alice.post("/v1/jobs", json=SPEECH))
        _assert_unavailable(alice.post("/v1/jobs", data={"model": "whisper-1"},
                                       files={"file": ("a.wav", make_wav(1.0), "audio/wav")}))
        _assert_unavailable(alice.get("/v1/jobs"))
        _assert_unavailable(alice.get("/v1/jobs/job_" + "0" * 32))
        _assert_unavailable(alice.delete("/v1/jobs/job_" + "0" * 32))
        ready = alice.get("/readyz")
        assert ready.status_code == 503 and ready.json()["jobs"]["queue"] is False
        assert alice.post("/v1/audio/speech", json=SPEECH).status_code == 200  # sync audio does not need Redis


def test_s3_down_refuses_an_upload_job_and_a_retry_with_the_same_key_then_succeeds(outage_gateway, jobs_gateway,
                                                                                     redis_server):
    broken = outage_gateway(AWS_ENDPOINT_URL=f"http://127.0.0.1:{_dead_port()}")
    key = f"retry-{uuid.uuid4()}"
    upload = {"data": {"model": "whisper-1"}, "files": {"file": ("a.wav", make_wav(1.0), "audio/wav")},
              "headers": {"Idempotency-Key": key}}
    with keyed_client(broken.url, "alice") as alice_broken, keyed_client(jobs_gateway.url, "alice") as alice:
        before = [job["id"] for job in alice.get("/v1/jobs", params={"limit": 100}).json()["data"]]
        _assert_unavailable(alice_broken.post("/v1/jobs", **upload))
        assert [job["id"] for job in alice.get("/v1/jobs", params={"limit": 100}).json()["data"]] == before

        retried = alice.post("/v1/jobs", **upload)  # the key was given back: served, not 409
        assert retried.status_code == 202, retried.text
        again = alice.post("/v1/jobs", **upload)
        assert again.status_code == 202 and again.json()["id"] == retried.json()["id"]

    # Once the job exists the key is kept as long as the job (a claim alone lapses after CLAIM_SECONDS).
    [stored] = redis.Redis.from_url(redis_server.url(0)).scan_iter(match=f"ag:idem:*:{key}")
    assert redis.Redis.from_url(redis_server.url(0)).ttl(stored) > CLAIM_SECONDS
