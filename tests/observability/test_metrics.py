"""GET /metrics in one process: exact counts after a scripted mix, who may read them, and the metrics port."""

from __future__ import annotations

import httpx
import openai
import pytest

from audio_gateway.observability.metrics import CIRCUIT_STATES
from audio_gateway.settings import Settings, SettingsError

from ..conftest import CLIENT_KEYS, provider_env
from ..fakes import Fault
from ..support.server_thread import GatewayServer
from ..support.services import free_port
from .mix import AUTH, SPEECH, check, labels, of, run_mix, samples, scrape

ADMIN = "sk-gw-admin-5b1c0e"
ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def start(fake_openai, fake_siliconflow):
    servers: list[GatewayServer] = []

    def start_gateway(**env: str) -> GatewayServer:
        # No test here injects a hang, so a generous upstream timeout costs nothing: at the suite's 0.5 s a
        # loaded CI machine timed out calls the counts expected to be answered, and the test measured the machine.
        env = {"AUDIO_GATEWAY_UPSTREAM_TIMEOUT": "5", "AUDIO_GATEWAY_ADMIN_KEYS": f"ops:{ADMIN}", **env}
        server = GatewayServer(provider_env(fake_openai, fake_siliconflow, **env)).start()
        servers.append(server)
        return server

    yield start_gateway
    for server in servers:
        server.stop()


def test_a_scripted_mix_is_counted_exactly(start, fake_openai, fake_siliconflow):
    gateway = start()

    def post(path: str, **kwargs) -> httpx.Response:
        return httpx.post(f"{gateway.url}{path}", headers=AUTH, timeout=10, **kwargs)

    expected = run_mix(post, fake_openai, fake_siliconflow)
    metrics = scrape(f"{gateway.url}/metrics", ADMIN_AUTH)
    check(metrics, expected)
    assert of(metrics, "audio_gateway_catalog_info") == {labels(version=gateway.app.state.gateway.version): 1.0}
    assert of(metrics, "audio_gateway_jobs") == {}          # no queue configured: no job counts


def test_the_official_sdk_is_counted_like_raw_http(start):
    gateway = start()
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEYS["bob"], max_retries=0) as sdk:
        for _ in range(2):
            with sdk.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input="Hi") as r:
                r.read()
        with pytest.raises(openai.NotFoundError):
            sdk.audio.speech.create(model="whisper-9000", voice="alloy", input="Hi")
    requests = of(scrape(f"{gateway.url}/metrics", ADMIN_AUTH), "audio_gateway_requests_total")
    assert requests == {labels(endpoint="audio.speech", model="openai/tts-1", provider="openai", status="completed"): 2}


def test_metrics_need_an_admin_key_when_client_keys_are_configured(start):
    gateway = start()
    assert httpx.get(f"{gateway.url}/metrics").status_code == 401
    refused = httpx.get(f"{gateway.url}/metrics", headers=AUTH)
    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "message": "GET /metrics needs an admin key (AUDIO_GATEWAY_ADMIN_KEYS), or use the metrics port "
                   "(AUDIO_GATEWAY_METRICS_PORT, loopback only).",
        "type": "permission_error", "param": None, "code": "admin_key_required"}
    assert httpx.get(f"{gateway.url}/metrics", headers=ADMIN_AUTH).status_code == 200
    assert "/metrics" not in httpx.get(f"{gateway.url}/openapi/openapi.json").text   # not part of the API


def test_the_metrics_port_serves_the_same_figures_without_a_key_on_loopback(start):
    port = free_port()
    gateway = start(AUDIO_GATEWAY_METRICS_PORT=str(port))
    assert httpx.post(f"{gateway.url}/v1/audio/speech", json=SPEECH, headers=AUTH).status_code == 200
    on_port = scrape(f"http://127.0.0.1:{port}/metrics")
    main = scrape(f"{gateway.url}/metrics", ADMIN_AUTH)
    key = labels(endpoint="audio.speech", model="openai/tts-1", provider="openai", status="completed")
    assert of(on_port, "audio_gateway_requests_total") == of(main, "audio_gateway_requests_total") == {key: 1.0}
    assert httpx.get(f"http://127.0.0.1:{port}/v1/models").status_code == 404   # metrics only


def test_an_open_breaker_shows_in_the_circuit_gauge(start, fake_openai):
    gateway = start(AUDIO_GATEWAY_CIRCUIT_BREAKER="on", AUDIO_GATEWAY_BREAKER_THRESHOLD="2",
                    AUDIO_GATEWAY_BREAKER_COOLDOWN="60")
    fake_openai.inject(Fault.HTTP_503, times=2, path="/v1/audio/speech")
    for _ in range(2):
        response = httpx.post(f"{gateway.url}/v1/audio/speech", json=SPEECH, headers=AUTH, timeout=20)
        assert response.status_code == 200, response.text
    metrics = scrape(f"{gateway.url}/metrics", ADMIN_AUTH)
    assert of(metrics, "audio_gateway_circuit_state")[labels(provider="openai")] == CIRCUIT_STATES["open"] == 2
    assert of(metrics, "audio_gateway_circuit_state")[labels(provider="siliconflow")] == 0
    # Skipped without a call: counted with the outcome that says so.
    response = httpx.post(f"{gateway.url}/v1/audio/speech", json=SPEECH, headers=AUTH, timeout=20)
    assert response.status_code == 200, response.text
    attempts = of(scrape(f"{gateway.url}/metrics", ADMIN_AUTH), "audio_gateway_upstream_attempts_total")
    assert attempts[labels(provider="openai", outcome="circuit_open")] == 1


def test_a_stream_counts_as_in_flight_until_its_last_byte(start, fake_openai):
    gateway = start(AUDIO_GATEWAY_UPSTREAM_TIMEOUT="5")
    fake_openai.audio_seconds, fake_openai.chunk_size, fake_openai.chunk_delay = 1.0, 4096, 0.05
    with httpx.stream("POST", f"{gateway.url}/v1/audio/speech", json={**SPEECH, "response_format": "wav"},
                      headers=AUTH, timeout=10) as response:
        chunks = response.iter_bytes()
        next(chunks)
        during = of(scrape(f"{gateway.url}/metrics", ADMIN_AUTH), "audio_gateway_inflight_requests")
        for _ in chunks:
            pass
    after = of(scrape(f"{gateway.url}/metrics", ADMIN_AUTH), "audio_gateway_inflight_requests")
    assert during == {frozenset(): 1.0} and after == {frozenset(): 0.0}


def test_metrics_can_be_switched_off(start):
    gateway = start(AUDIO_GATEWAY_METRICS="off")
    assert httpx.get(f"{gateway.url}/metrics", headers=ADMIN_AUTH).status_code == 404
    assert httpx.post(f"{gateway.url}/v1/audio/speech", json=SPEECH, headers=AUTH).status_code == 200


def test_the_exposition_parses_and_histograms_are_consistent(start):
    gateway = start()
    assert httpx.post(f"{gateway.url}/v1/audio/speech", json=SPEECH, headers=AUTH).status_code == 200
    text = httpx.get(f"{gateway.url}/metrics", headers=ADMIN_AUTH).text
    parsed = samples(text)
    model = labels(endpoint="audio.speech", model="openai/tts-1")
    buckets = {dict(k)["le"]: v for k, v in of(parsed, "audio_gateway_request_duration_seconds_bucket").items()
               if k - {("le", dict(k)["le"])} == model}
    assert buckets["+Inf"] == of(parsed, "audio_gateway_request_duration_seconds_count")[model] == 1.0
    assert list(buckets.values()) == sorted(buckets.values())   # cumulative


@pytest.mark.parametrize(("raw", "message"), [
    ("0", "AUDIO_GATEWAY_METRICS_PORT must be a TCP port (1-65535), got '0'"),
    ("http", "AUDIO_GATEWAY_METRICS_PORT must be an integer, got 'http'")])
def test_the_metrics_port_setting_is_checked(raw, message):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"AUDIO_GATEWAY_METRICS_PORT": raw})
    assert str(caught.value) == message
