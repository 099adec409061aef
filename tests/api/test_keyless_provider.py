"""A keyless self-hosted OpenAI-compatible server (speaches, Kokoro-FastAPI, vLLM) is one YAML file.

`adapter: openai` + `auth: none`: configured without a key, and no Authorization header is sent.
"""

from __future__ import annotations

import shutil

import httpx
import pytest

from ..audio_samples import make_wav
from ..conftest import CLIENT_KEYS, provider_env
from ..fakes import FakeOpenAI
from ..support.server_thread import CATALOG_DIR, GatewayServer

SELF_HOSTED = """
providers:
  speaches:
    adapter: openai
    auth: none
    base_url: ${SELFHOSTED_URL}
models:
  - id: selfhosted/tts
    kind: tts
    provider: speaches
    upstream_model: tts-1
    voices: openai
    capabilities: {response_formats: [mp3, wav], max_input_chars: 4096}
    billing: [{unit: character, price_usd: 0}]
  - id: selfhosted/whisper
    kind: stt
    provider: speaches
    upstream_model: whisper-1
    capabilities: {response_formats: [json, text, srt, vtt, verbose_json], upstream_response_format: verbose_json}
    billing: [{unit: minute, price_usd: 0}]
"""


@pytest.fixture(scope="module")
def self_hosted(tmp_path_factory, fake_openai, fake_siliconflow):
    keyless = FakeOpenAI.start(api_key="")
    keyless.require_auth = False
    catalog = tmp_path_factory.mktemp("catalog") / "catalog"
    shutil.copytree(CATALOG_DIR, catalog)
    (catalog / "selfhosted.yaml").write_text(SELF_HOSTED)
    server = GatewayServer(provider_env(fake_openai, fake_siliconflow, SELFHOSTED_URL=keyless.url),
                           catalog_dir=catalog).start()
    yield server, keyless
    server.stop()
    keyless.stop()


def test_a_keyless_provider_serves_speech_and_transcription_by_yaml_alone(self_hosted):
    server, keyless = self_hosted
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}) as http:
        speech = http.post("/v1/audio/speech", json={"model": "selfhosted/tts", "voice": "alloy", "input": "Hi"})
        assert speech.status_code == 200, speech.text
        assert speech.headers["x-gateway-provider"] == "speaches"
        text = http.post("/v1/audio/transcriptions", data={"model": "selfhosted/whisper", "response_format": "srt"},
                         files={"file": ("a.wav", make_wav(1.0), "audio/wav")})
        assert text.status_code == 200 and text.text.startswith("1\n00:00:00,000 --> ")
        ready = http.get("/readyz").json()
    assert ready["providers"]["speaches"]["configured"] is True
    assert [r.path for r in keyless.requests] == ["/v1/audio/speech", "/v1/audio/transcriptions"]
    assert all("authorization" not in r.headers for r in keyless.requests)


def test_the_openapi_document_lists_the_served_catalogs_models_and_voices(self_hosted, gateway):
    server, _ = self_hosted
    document = httpx.get(f"{server.url}/openapi/openapi.json").json()
    speech = document["paths"]["/v1/audio/speech"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    models = speech["properties"]["model"]["anyOf"][1]["enum"]
    assert "selfhosted/tts" in models and "tts-1" in models and "openai/whisper-1" not in models
    voices = speech["properties"]["voice"]["anyOf"][0]["anyOf"][1]["enum"]
    assert {"alloy", "anna", "nova"} <= set(voices)
    form = document["paths"]["/v1/audio/translations"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    # auto-transcribe translates too (through whisper-1, the target that can)
    assert form["properties"]["model"]["anyOf"][1]["enum"] == ["whisper-1", "openai/whisper-1", "auto-transcribe",
                                                               "gateway/auto-transcribe"]
    assert "x-catalog" not in str(document)
    # The shipped catalog's gateway does not list the self-hosted model: names follow the plan served.
    shipped = httpx.get(f"{gateway.url}/openapi/openapi.json").json()
    shipped_models = (shipped["paths"]["/v1/audio/speech"]["post"]["requestBody"]["content"]["application/json"]
                      ["schema"]["properties"]["model"]["anyOf"][1]["enum"])
    assert "selfhosted/tts" not in shipped_models and "openai/tts-1" in shipped_models
