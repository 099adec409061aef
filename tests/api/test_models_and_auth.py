"""Models API, health probes, auth, request ids and OpenAI-shaped framework errors."""

from __future__ import annotations

import shutil

import httpx
import openai
import pytest

from ..conftest import CLIENT_KEYS, provider_env
from ..support.server_thread import CATALOG_DIR, GatewayServer


def test_models_list_is_openai_shaped_and_snapshot_pinned(client, gateway, snapshot):
    response = client.get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list" and len(body["data"]) == len(gateway.plan.routes)  # served + virtual (auto, ...)
    assert body == snapshot


def test_sdk_lists_and_retrieves_models(sdk):
    ids = [model.id for model in sdk.models.list()]
    assert "openai/tts-1" in ids and "alibaba/sensevoice-small" in ids
    model = sdk.models.retrieve("openai/whisper-1")
    assert model.owned_by == "openai"
    assert model.model_extra["fallbacks"] == ["alibaba/sensevoice-small"]
    assert model.model_extra["pricing"] == [{"unit": "second", "price_usd": "0.006", "per": 60, "label": "seconds",
                                             "rounding": "up", "round_to_seconds": "1"}]


def test_retrieve_by_alias_returns_the_canonical_model(client):
    assert client.get("/v1/models/tts-1").json()["id"] == "openai/tts-1"


def test_unknown_model_is_404_in_openai_shape(sdk, snapshot):
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.models.retrieve("acme/unknown")
    assert caught.value.body == snapshot


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {CLIENT_KEYS['alice']}"},
                                     {"Authorization": CLIENT_KEYS["alice"]}])
def test_v1_routes_require_a_valid_key(gateway, headers, snapshot):
    response = httpx.get(f"{gateway.url}/v1/models", headers=headers)
    assert response.status_code == 401
    assert response.json() == snapshot
    assert response.headers["x-request-id"]


def test_sdk_with_a_wrong_key_gets_authentication_error(gateway):
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-wrong", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()


def test_every_key_in_the_list_is_accepted(gateway):
    for key in CLIENT_KEYS.values():
        assert httpx.get(f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_health_probes_need_no_key(gateway):
    assert httpx.get(f"{gateway.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{gateway.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["providers"]["openai"] == {
        "adapter": "openai", "configured": True,
        "circuit": {"state": "closed", "consecutive_failures": 0, "retry_in_seconds": None, "last_failure": None}}


@pytest.mark.parametrize("method, path, status", [("GET", "/v1/nowhere", 404), ("DELETE", "/v1/audio/speech", 405),
                                                  ("GET", "/v1/audio/speech", 405)])
def test_framework_errors_use_the_openai_error_shape(client, method, path, status, snapshot):
    response = client.request(method, path)
    assert response.status_code == status
    assert response.headers["x-request-id"].startswith("req_")    # unmatched routes carry it too
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert response.json() == snapshot


def test_request_id_is_echoed_or_generated(client):
    assert client.get("/v1/models", headers={"x-request-id": "trace-123"}).headers["x-request-id"] == "trace-123"
    generated = client.get("/v1/models", headers={"x-request-id": "bad id with spaces"}).headers["x-request-id"]
    assert generated.startswith("req_") and len(generated) > 20


def test_unconfigured_providers_make_readyz_fail_and_requests_503(fake_openai, fake_siliconflow):
    env = provider_env(fake_openai, fake_siliconflow, OPENAI_API_KEY="", SILICONFLOW_API_KEY="")
    server = GatewayServer(env).start()
    try:
        assert httpx.get(f"{server.url}/readyz").status_code == 503
        response = httpx.post(f"{server.url}/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": "x"},
                              headers={"Authorization": f"Bearer {CLIENT_KEYS['bob']}"})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "no_provider_available"
        assert fake_openai.hits == 0 and fake_siliconflow.hits == 0
    finally:
        server.stop()


def test_missing_openai_key_falls_back_to_siliconflow(fake_openai, fake_siliconflow):
    server = GatewayServer(provider_env(fake_openai, fake_siliconflow, OPENAI_API_KEY="", AUDIO_GATEWAY_API_KEYS="")).start()
    try:  # also: with no client keys the gateway runs open (it is bound to loopback)
        response = httpx.post(f"{server.url}/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": "x"})
        assert response.status_code == 200
        assert response.headers["x-gateway-provider"] == "siliconflow"
        assert response.headers["x-gateway-attempts"] == "1"
    finally:
        server.stop()


def test_adding_a_model_is_a_yaml_only_change(tmp_path, fake_openai, fake_siliconflow):
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, catalog)
    (catalog / "models" / "telespeech.yaml").write_text(
        "models:\n"
        "  - id: teleai/telespeech-asr\n"
        "    kind: stt\n"
        "    provider: siliconflow\n"
        "    upstream_model: TeleAI/TeleSpeechASR\n"
        "    aliases: [telespeech]\n"
        "    capabilities: {response_formats: [json, text, srt, vtt, verbose_json]}\n"
        "    billing: [{unit: minute, price_usd: 0.012}]\n"
    )
    shutil.copytree(CATALOG_DIR.parent / "schema", tmp_path / "schema")
    server = GatewayServer(provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_UPSTREAM_TIMEOUT="10"), catalog_dir=catalog).start()
    try:
        from ..audio_samples import make_wav

        response = httpx.post(f"{server.url}/v1/audio/transcriptions", data={"model": "telespeech", "response_format": "srt"},
                              files={"file": ("a.wav", make_wav(5.0), "audio/wav")},
                              headers={"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}, timeout=30)
        assert response.status_code == 200, response.text
        assert response.headers["x-gateway-model"] == "teleai/telespeech-asr"
        assert response.headers["x-gateway-cost-usd"] == "0.001"
        assert fake_siliconflow.requests[0].form["model"] == "TeleAI/TeleSpeechASR"
    finally:
        server.stop()
