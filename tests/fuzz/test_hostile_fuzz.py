"""The OpenAPI fuzz with hostile bodies (see hostile_fuzz.py): deep JSON, multipart cut short, trickled bodies.

/v1/jobs, which needs Redis and S3, is fuzzed the same way in tests/jobs/test_jobs_fuzz.py.
"""

from __future__ import annotations

import pytest

from ..conftest import CLIENT_KEYS
from .hostile_fuzz import fuzz_hostile
from .openapi_fuzz import Api

AUTH = {"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}
CASES = [("POST /v1/audio/speech", "deep"), ("POST /v1/audio/speech", "trickled"),
         ("POST /v1/audio/transcriptions", "truncated"), ("POST /v1/audio/transcriptions", "trickled"),
         ("POST /v1/audio/translations", "truncated"), ("POST /v1/audio/translations", "trickled")]


@pytest.fixture(scope="module")
def api(gateway) -> Api:
    return Api(gateway.url)


@pytest.mark.parametrize("label, transform", CASES, ids=[f"{label}-{transform}" for label, transform in CASES])
def test_hostile_bodies(api: Api, label: str, transform: str) -> None:
    fuzz_hostile(api, label, transform, AUTH, max_examples=10)
