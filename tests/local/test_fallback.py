"""A cloud outage degrades quality, not availability: OpenAI failing with 500 is served by the local engines."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from ..conftest import CLIENT_KEYS, OPENAI_KEY
from ..fakes import Fault
from ..support.server_thread import GatewayServer
from .conftest import FOX, decoded_seconds, local_env, word_error_rate


@pytest.fixture(scope="module")
def cloud_and_local(fake_openai, fake_siliconflow):
    """OpenAI configured (the fake), SiliconFlow without a key, local on: chains are openai → local."""
    server = GatewayServer(local_env(fake_openai, fake_siliconflow, OPENAI_API_KEY=OPENAI_KEY)).start()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {CLIENT_KEYS['alice']}"},
                      timeout=60) as http:
        yield http
    server.stop()


def test_healthy_openai_still_serves_first(cloud_and_local, fake_openai):
    response = cloud_and_local.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": FOX})
    assert response.status_code == 200
    assert response.headers["x-gateway-provider"] == "openai" and fake_openai.hits == 1


def test_openai_500_on_speech_is_served_by_espeak_at_zero_cost(cloud_and_local, fake_openai):
    fake_openai.inject(Fault.HTTP_500)
    response = cloud_and_local.post("/v1/audio/speech", json={"model": "tts-1", "voice": "nova", "input": FOX,
                                                               "response_format": "flac"})
    assert response.status_code == 200, response.text
    assert (response.headers["x-gateway-model"], response.headers["x-gateway-provider"]) == ("local/espeak-ng", "local")
    assert response.headers["x-gateway-attempts"] == "2"
    assert Decimal(response.headers["x-gateway-cost-usd"]) == Decimal(0)
    assert 1.5 < decoded_seconds(response.content, "flac") < 6.0
    assert fake_openai.hits == 1


def test_openai_500_on_transcription_is_served_by_whisper_at_zero_cost(cloud_and_local, fake_openai):
    audio = cloud_and_local.post("/v1/audio/speech", json={"model": "local/espeak-ng", "voice": "alloy", "input": FOX,
                                                            "response_format": "wav"}).content
    fake_openai.inject(Fault.HTTP_500)
    response = cloud_and_local.post("/v1/audio/transcriptions", data={"model": "whisper-1", "response_format": "json"},
                                    files={"file": ("fox.wav", audio, "audio/wav")})
    assert response.status_code == 200, response.text
    assert (response.headers["x-gateway-model"], response.headers["x-gateway-provider"]) == ("local/whisper-tiny", "local")
    assert Decimal(response.headers["x-gateway-cost-usd"]) == Decimal(0)
    assert word_error_rate(FOX, response.json()["text"]) <= 0.5
    assert fake_openai.hits == 1


def test_every_provider_refusing_the_key_still_ends_at_local(cloud_and_local, fake_openai):
    """401 from OpenAI (our key refused) falls back like a 5xx: the chain's last word is the local model."""
    fake_openai.inject(Fault.HTTP_401)
    response = cloud_and_local.post("/v1/audio/speech", json={"model": "tts-1-hd", "voice": "onyx", "input": "Hello."})
    assert response.status_code == 200 and response.headers["x-gateway-provider"] == "local"
