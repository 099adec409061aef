"""Fuzz /v1/jobs from the served OpenAPI document against a gateway with Redis and S3 (see tests/fuzz).

No worker runs here (its own Redis db): the fuzz is about what the API accepts and answers, and
accepted jobs simply stay queued.
"""

from __future__ import annotations

import pytest
from schemathesis import GenerationMode

from ..conftest import CLIENT_KEYS
from ..fuzz.hostile_fuzz import TRANSFORMS, fuzz_hostile
from ..fuzz.openapi_fuzz import Api, fuzz
from ..support.server_thread import GatewayServer
from .conftest import jobs_env

AUTH = {"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}
JOBS = ["POST /v1/jobs", "GET /v1/jobs", "GET /v1/jobs/{job_id}", "DELETE /v1/jobs/{job_id}"]


@pytest.fixture(scope="module")
def api(fake_openai, fake_siliconflow, redis_server, s3_server):
    server = GatewayServer(jobs_env(fake_openai, fake_siliconflow, redis_server, s3_server, db=7)).start()
    yield Api(server.url)
    server.stop()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("label", JOBS)
def test_fuzz_jobs(api: Api, label: str, mode: GenerationMode) -> None:
    fuzz(api, label, mode, AUTH, max_examples=25)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_hostile_job_bodies(api: Api, transform: str) -> None:
    """Deep JSON, multipart cut short and trickled bodies (tests/fuzz/hostile_fuzz.py) on POST /v1/jobs."""
    fuzz_hostile(api, "POST /v1/jobs", transform, AUTH, max_examples=10)
