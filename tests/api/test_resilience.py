"""Circuit breakers, the request deadline and per-provider connection limits, end to end over loopback.

Each test gets its own gateway (breaker state is per gateway process) with the breaker switched on; the
shared session gateway runs with it off so that other tests can inject failures back to back.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from ..audio_samples import make_wav
from ..conftest import CLIENT_KEYS, provider_env
from ..fakes import Fault
from ..support.server_thread import CATALOG_DIR, GatewayServer

SPEECH = {"model": "tts-1", "voice": "alloy", "input": "Hello there, circuit breaker."}
AUTH = {"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}


@pytest.fixture
def start_gateway(fake_openai, fake_siliconflow):
    servers: list[GatewayServer] = []

    def start(catalog_dir: Path = CATALOG_DIR, **env: str) -> GatewayServer:
        settings = {"AUDIO_GATEWAY_CIRCUIT_BREAKER": "on", "AUDIO_GATEWAY_BREAKER_COOLDOWN": "0.4", **env}
        server = GatewayServer(provider_env(fake_openai, fake_siliconflow, **settings), catalog_dir=catalog_dir)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


def speak(server: GatewayServer, **body) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/audio/speech", json={**SPEECH, **body}, headers=AUTH, timeout=10)


def circuit(server: GatewayServer, provider: str) -> dict:
    return httpx.get(f"{server.url}/readyz").json()["providers"][provider]["circuit"]


def wait_for_state(server: GatewayServer, provider: str, state: str, timeout: float = 5.0) -> None:
    """The cooldown is wall-clock time by definition; poll readyz until it has passed."""
    deadline = time.monotonic() + timeout
    while circuit(server, provider)["state"] != state:
        assert time.monotonic() < deadline, f"{provider} never became {state}: {circuit(server, provider)}"
        time.sleep(0.02)


def open_openai_circuit(server: GatewayServer, fake_openai) -> None:
    fake_openai.inject(Fault.HTTP_503, times=3, path="/v1/audio/speech")
    for _ in range(3):
        response = speak(server)
        assert response.status_code == 200
        assert response.headers["x-gateway-provider"] == "siliconflow"
    assert circuit(server, "openai")["state"] == "open"


def test_three_failures_open_the_circuit_then_fallback_stops_waiting(start_gateway, fake_openai, fake_siliconflow):
    server = start_gateway(AUDIO_GATEWAY_BREAKER_COOLDOWN="30")
    fake_openai.inject(Fault.HANG, times=None, path="/v1/audio/speech")
    for _ in range(3):
        started = time.monotonic()
        response = speak(server)
        assert response.status_code == 200 and response.headers["x-gateway-provider"] == "siliconflow"
        assert time.monotonic() - started >= 0.5          # each waited out OpenAI's 0.5 s first-byte timeout
    assert fake_openai.hits == 3

    state = circuit(server, "openai")
    assert state["state"] == "open" and state["consecutive_failures"] == 3
    assert 29 < state["retry_in_seconds"] <= 30
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    assert circuit(server, "siliconflow")["state"] == "closed"

    response = speak(server)                              # straight to the next target, not waiting 0.5 s:
    assert response.status_code == 200 and response.headers["x-gateway-provider"] == "siliconflow"
    assert response.headers["x-gateway-attempts"] == "1"  # the skipped target was never called
    assert fake_openai.hits == 3                          # (proved by counts, not a wall-clock bound)


def test_after_the_cooldown_a_successful_probe_closes_it(start_gateway, fake_openai):
    server = start_gateway()
    open_openai_circuit(server, fake_openai)
    wait_for_state(server, "openai", "half_open")
    response = speak(server)
    assert response.status_code == 200 and response.headers["x-gateway-provider"] == "openai"
    state = circuit(server, "openai")
    assert (state["state"], state["consecutive_failures"], state["retry_in_seconds"]) == ("closed", 0, None)
    assert httpx.get(f"{server.url}/readyz").json()["status"] == "ready"


def test_half_open_lets_a_single_probe_through_and_a_failed_probe_reopens(start_gateway, fake_openai, fake_siliconflow):
    server = start_gateway()
    open_openai_circuit(server, fake_openai)
    wait_for_state(server, "openai", "half_open")
    fake_openai.inject(Fault.HANG, times=1, path="/v1/audio/speech")

    probe: dict[str, httpx.Response] = {}
    thread = threading.Thread(target=lambda: probe.setdefault("response", speak(server)))
    thread.start()
    fake_openai.wait_for_requests(4)                      # the probe is now hanging at OpenAI
    others = [speak(server) for _ in range(3)]            # meanwhile nobody else is let through
    assert [r.headers["x-gateway-provider"] for r in others] == ["siliconflow"] * 3
    assert fake_openai.hits == 4
    thread.join(10)

    assert probe["response"].status_code == 200        # the probe itself fell back after its timeout
    assert probe["response"].headers["x-gateway-provider"] == "siliconflow"
    state = circuit(server, "openai")
    assert state["state"] == "open" and state["consecutive_failures"] == 4


def test_retry_after_on_a_429_opens_the_circuit_for_that_long(start_gateway, fake_openai):
    server = start_gateway()
    fake_openai.retry_after = "7"
    fake_openai.inject(Fault.HTTP_429, times=1, path="/v1/audio/speech")
    assert speak(server).headers["x-gateway-provider"] == "siliconflow"
    state = circuit(server, "openai")
    assert state["state"] == "open" and state["consecutive_failures"] == 1
    assert 6 < state["retry_in_seconds"] <= 7
    assert state["last_failure"].startswith("HTTP 429")


def test_every_circuit_open_is_503_with_retry_after_and_no_upstream_call(start_gateway, fake_openai, fake_siliconflow):
    server = start_gateway()
    for fake in (fake_openai, fake_siliconflow):
        fake.retry_after = "5"
        fake.inject(Fault.HTTP_429, times=1)
    assert speak(server).status_code == 502               # both refused: the breakers open on the Retry-After

    response = speak(server)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "no_provider_available" and error["type"] == "upstream_error"
    assert [a["outcome"] for a in error["attempts"]] == ["circuit_open", "circuit_open"]
    assert int(response.headers["retry-after"]) in (4, 5)
    assert (fake_openai.hits, fake_siliconflow.hits) == (1, 1)


def test_transcription_shares_the_provider_circuit(start_gateway, fake_openai, fake_siliconflow):
    server = start_gateway(AUDIO_GATEWAY_BREAKER_COOLDOWN="30")
    open_openai_circuit(server, fake_openai)              # opened by speech failures
    response = httpx.post(f"{server.url}/v1/audio/transcriptions", headers=AUTH, timeout=10,
                          data={"model": "whisper-1"}, files={"file": ("a.wav", make_wav(1.0), "audio/wav")})
    assert response.status_code == 200
    assert response.headers["x-gateway-provider"] == "siliconflow"
    assert not [r for r in fake_openai.requests if r.path.endswith("/transcriptions")]


def test_a_chain_of_slow_providers_is_cut_off_by_the_request_deadline(start_gateway, fake_openai, fake_siliconflow):
    # Each provider may take 2 s to its first byte; without a deadline the chain would hold the client 4 s.
    server = start_gateway(AUDIO_GATEWAY_UPSTREAM_TIMEOUT="2", AUDIO_GATEWAY_REQUEST_DEADLINE="0.6")
    fake_openai.inject(Fault.HANG, times=None)
    fake_siliconflow.inject(Fault.HANG, times=None)
    started = time.monotonic()
    response = speak(server)
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    error = response.json()["error"]
    assert error["code"] == "deadline_exceeded" and "0.6 s" in error["message"]
    assert [a["outcome"] for a in error["attempts"]] == ["deadline"]
    assert 0.6 <= elapsed < 1.9
    assert fake_siliconflow.hits == 0                     # no time left, so the next target was not started
    assert circuit(server, "openai")["consecutive_failures"] == 0   # our deadline is no verdict on the provider


def _catalog_with(tmp_path: Path, replacements: dict[str, str]) -> Path:
    directory = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, directory)
    providers = directory / "providers.yaml"
    text = providers.read_text()
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    providers.write_text(text)
    return directory


def test_connection_limit_falls_back_then_answers_429_when_every_provider_is_full(
        start_gateway, fake_openai, fake_siliconflow, tmp_path):
    catalog = _catalog_with(tmp_path, {"max_connections: 100": "max_connections: 1",
                                       "connect_seconds: 5": "connect_seconds: 0.3"})
    server = start_gateway(catalog, AUDIO_GATEWAY_UPSTREAM_TIMEOUT="")
    fake_openai.inject(Fault.STALL_MID_STREAM, times=1)
    fake_siliconflow.inject(Fault.STALL_MID_STREAM, times=1)
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as http:
        with http.stream("POST", "/v1/audio/speech", json=SPEECH) as held_openai:
            assert held_openai.headers["x-gateway-provider"] == "openai"
            with http.stream("POST", "/v1/audio/speech", json=SPEECH) as held_siliconflow:
                # OpenAI's only connection is busy: the second request waited 0.3 s for it, then fell back.
                assert held_siliconflow.headers["x-gateway-provider"] == "siliconflow"
                full = httpx.post(f"{server.url}/v1/audio/speech", json=SPEECH, headers=AUTH, timeout=10)
                assert full.status_code == 429
                assert full.headers["retry-after"] == "1"
                error = full.json()["error"]
                assert error["code"] == "upstream_capacity_exhausted"
                assert [a["outcome"] for a in error["attempts"]] == ["busy", "busy"]
                fake_openai.release()
                fake_siliconflow.release()
                assert len(held_siliconflow.read()) > 0
            assert len(held_openai.read()) > 0
    assert (fake_openai.hits, fake_siliconflow.hits) == (1, 1)
    assert circuit(server, "openai")["consecutive_failures"] == 0    # our own limit is not the provider's fault
    assert speak(server).headers["x-gateway-provider"] == "openai"   # and the connection is free again
