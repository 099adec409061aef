"""The usage endpoints' answers validate against OpenAI's own schemas, and carry every field they name."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from ..fixtures.openai_schemas import extract, find_spec, load_extract
from .dataset import DAY
from .rows import T0_UNIX

SCHEMAS = load_extract()
RESULT_SCHEMAS = {
    "organization.usage.audio_speeches.result": "UsageAudioSpeechesResult",
    "organization.usage.audio_transcriptions.result": "UsageAudioTranscriptionsResult",
    "organization.costs.result": "CostsResult",
}
QUERIES = [
    ("/v1/organization/usage/audio_speeches", {}),
    ("/v1/organization/usage/audio_speeches", {"group_by": ["model", "api_key_id", "project_id", "user_id"]}),
    ("/v1/organization/usage/audio_speeches", {"bucket_width": "1m", "limit": 90}),
    ("/v1/organization/usage/audio_transcriptions", {"group_by": "model", "bucket_width": "1h"}),
    ("/v1/organization/usage/audio_transcriptions", {"models": "whisper-1", "limit": 2}),
    ("/v1/organization/costs", {}),
    ("/v1/organization/costs", {"group_by": ["line_item", "api_key_id", "project_id"]}),
]


def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**SCHEMAS, "$ref": f"#/components/schemas/{name}"})


@pytest.mark.parametrize("path, params", QUERIES)
def test_response_is_a_usage_response_with_every_spec_field(usage_gateway, path, params):
    with usage_gateway.client("ops") as http:
        response = http.get(path, params={"start_time": T0_UNIX, "end_time": T0_UNIX + 3 * DAY, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    _validator("UsageResponse").validate(body)
    results = [result for bucket in body["data"] for result in bucket["results"]]
    assert results, "the query should find rows"
    for result in results:
        schema = SCHEMAS["components"]["schemas"][RESULT_SCHEMAS[result["object"]]]
        _validator(RESULT_SCHEMAS[result["object"]]).validate(result)
        assert set(schema["properties"]) <= set(result), f"spec fields missing from {result}"


def test_the_kept_schemas_are_the_specs():
    spec = find_spec()
    if spec is None:
        pytest.skip("shared/specs/openai-openapi.yaml is not beside the repository")
    assert extract(spec) == SCHEMAS, "the spec changed: run `python -m tests.fixtures.openai_schemas`"
