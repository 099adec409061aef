"""Bad input to the local models is a 400 naming the param; a machine without the engines is not_ready, not a crash."""

from __future__ import annotations

import httpx
import pytest

from ..conftest import CLIENT_KEYS
from ..support.server_thread import GatewayServer
from .conftest import FOX, local_env


@pytest.fixture
def http(local_gateway):
    with httpx.Client(base_url=local_gateway.url, headers={"Authorization": f"Bearer {CLIENT_KEYS['alice']}"},
                      timeout=60) as client:
        yield client


@pytest.mark.parametrize("body, param, code", [
    ({"input": ""}, "input", "empty_input"),
    ({"input": "   "}, "input", "empty_input"),
    ({"input": "x" * 4097}, "input", "string_above_max_length"),     # local/espeak-ng's max_input_chars
    ({"speed": 3.0}, "speed", "invalid_value"),                        # eSpeak's range is 0.5-2.5 here
    ({"stream_format": "sse"}, "stream_format", "unsupported_value"),
])
def test_bad_speech_input_is_a_400_naming_the_param(http, body, param, code):
    response = http.post("/v1/audio/speech", json={"model": "local/espeak-ng", "voice": "alloy", "input": FOX, **body})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")


@pytest.mark.parametrize("content", [b"", b"definitely not audio" * 50, b"RIFF\x00\x00\x00\x00WAVEfmt "])
def test_unreadable_audio_is_a_400_naming_file(http, content):
    response = http.post("/v1/audio/transcriptions", data={"model": "local/whisper-tiny"},
                         files={"file": ("x.wav", content, "audio/wav")})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "file"


def test_word_timestamps_need_verbose_json(http):
    response = http.post("/v1/audio/transcriptions",
                         data={"model": "local/whisper-tiny", "timestamp_granularities[]": "word"},
                         files={"file": ("x.wav", b"RIFF", "audio/wav")})
    assert response.status_code == 400 and response.json()["error"]["param"] == "timestamp_granularities"


def test_readyz_with_local_engines_is_ready_without_any_key(http):
    body = http.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["providers"]["local"]["configured"] is True and "reason" not in body["providers"]["local"]
    assert body["providers"]["openai"] == {**body["providers"]["openai"], "configured": False,
                                           "reason": "no API key configured"}


def test_missing_engine_is_not_configured_with_a_reason(fake_openai, fake_siliconflow, tmp_path):
    """A Whisper model directory that is not there: the gateway starts, says why, and answers 503."""
    missing = tmp_path / "no-model"
    server = GatewayServer(local_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_WHISPER_MODEL_DIR=str(missing))).start()
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {CLIENT_KEYS['alice']}"},
                          timeout=10) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["status"] == "not_ready"
            local = ready.json()["providers"]["local"]
            assert local["configured"] is False
            assert local["reason"] == f"Whisper model directory {missing} does not exist"
            speech = client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": FOX})
            assert speech.status_code == 503, speech.text
            error = speech.json()["error"]
            assert error["code"] == "no_provider_available"
            assert [a["outcome"] for a in error["attempts"]] == ["not_configured"] * 3
    finally:
        server.stop()


def test_models_list_the_local_models_at_zero_cost_last_in_every_chain(http):
    models = {m["id"]: m for m in http.get("/v1/models").json()["data"]}
    assert {"local/espeak-ng", "local/whisper-tiny"} <= set(models)
    assert models["local/espeak-ng"]["provider"] == "local"
    for model in models.values():
        if model["provider"] != "local":
            last = model["fallbacks"][-1]
            assert (last if isinstance(last, str) else last["model"]) in ("local/espeak-ng", "local/whisper-tiny"), model
