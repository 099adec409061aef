"""Fuzz the HTTP API from its own OpenAPI document, with and without a client key (see openapi_fuzz.py).

The session gateway has no job queue, so the /v1/jobs operations answer 503 here; tests/jobs fuzzes them
against a gateway with Redis, S3 and a worker.
"""

from __future__ import annotations

import pytest
from schemathesis import GenerationMode

from ..conftest import CLIENT_KEYS
from .openapi_fuzz import Api, fuzz

AUTH = {"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}
INPUTLESS = ["GET /healthz", "GET /readyz", "GET /v1/models"]
WITH_INPUT = ["GET /v1/models/{model_id}", "POST /v1/audio/speech", "POST /v1/audio/transcriptions",
              "POST /v1/audio/translations", "POST /v1/jobs", "GET /v1/jobs", "GET /v1/jobs/{job_id}",
              "DELETE /v1/jobs/{job_id}", "GET /v1/organization/usage/audio_speeches",
              "GET /v1/organization/usage/audio_transcriptions", "GET /v1/organization/costs",
              "GET /v1/usage/requests/{request_id}", "POST /v1/gateway/keys", "GET /v1/gateway/keys",
              "GET /v1/gateway/keys/{name}", "PATCH /v1/gateway/keys/{name}", "DELETE /v1/gateway/keys/{name}"]
CASES = [(label, GenerationMode.POSITIVE) for label in INPUTLESS + WITH_INPUT] + [
    (label, GenerationMode.NEGATIVE) for label in WITH_INPUT]


@pytest.fixture(scope="module")
def api(gateway) -> Api:
    return Api(gateway.url)


def test_every_documented_operation_is_fuzzed(api: Api) -> None:
    assert api.labels() == sorted(INPUTLESS + WITH_INPUT)


@pytest.mark.parametrize("label, mode", CASES, ids=[f"{label}-{mode.value}" for label, mode in CASES])
def test_fuzz(api: Api, label: str, mode: GenerationMode) -> None:
    fuzz(api, label, mode, AUTH, max_examples=30)
