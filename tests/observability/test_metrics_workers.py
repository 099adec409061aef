"""GET /metrics under a real `serve --workers 2`: every scrape, whichever worker answers it, sums both
(prometheus-client's multiprocess mode), and a worker that dies stops counting as in flight."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from ..conftest import provider_env
from ..support.processes import children as _children
from ..support.processes import only as _only
from ..support.processes import wait_for_children as _wait_for_children
from ..support.services import GatewayProcess, free_port
from .mix import AUTH, SPEECH, check, labels, of, run_mix, scrape

ADMIN = "sk-gw-admin-workers-1"


@pytest.fixture(scope="module")
def two_workers(fake_openai, fake_siliconflow, tmp_path_factory):
    """One `serve --workers 2` for this module: the exact-sum test runs first, the next compares deltas."""
    tmp_path = tmp_path_factory.mktemp("metrics-workers")
    metrics_port = free_port()
    env = provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_WORKERS="2", AUDIO_GATEWAY_UPSTREAM_TIMEOUT="5",
                       AUDIO_GATEWAY_SHUTDOWN_GRACE="2", AUDIO_GATEWAY_ADMIN_KEYS=f"ops:{ADMIN}",
                       AUDIO_GATEWAY_METRICS_PORT=str(metrics_port))
    gateway = GatewayProcess(env, tmp_path / "gateway.log")
    gateway.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    _wait_for_children(gateway.process.pid, lambda kids: len(kids) == 2)
    yield gateway
    gateway.process.send_signal(signal.SIGTERM)   # a clean stop removes this start's metrics directory
    try:
        gateway.process.wait(10)
    finally:
        try:
            os.killpg(gateway.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        gateway.stop()


def only(gateway: GatewayProcess, worker: int):
    return _only(gateway.process.pid, worker)


def speak(gateway: GatewayProcess) -> httpx.Response:
    response = httpx.post(f"{gateway.url}/v1/audio/speech", json=SPEECH, headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    return response


def test_every_scrape_sums_both_workers_exactly(two_workers, fake_openai, fake_siliconflow):
    def post(path: str, **kwargs) -> httpx.Response:   # a fresh connection each: either worker may take it
        return httpx.post(f"{two_workers.url}{path}", headers=AUTH, timeout=10, **kwargs)

    expected = run_mix(post, fake_openai, fake_siliconflow)
    first, second = sorted(_children(two_workers.process.pid))
    for worker in (first, second):                   # each worker certainly serves two more
        with only(two_workers, worker):
            for _ in range(2):
                expected.served(speak(two_workers), "audio.speech", "character", len(SPEECH["input"]),
                                [("openai", "ok")], "openai/tts-1")
    scrapes = []
    for worker in (first, second):                   # and each answers a scrape with the sum of both
        with only(two_workers, worker):
            scrapes.append(scrape(two_workers.metrics_url))
            scrapes.append(scrape(f"{two_workers.url}/metrics", {"Authorization": f"Bearer {ADMIN}"}))
    for metrics in scrapes:
        check(metrics, expected)
        versions = of(metrics, "audio_gateway_catalog_info")
        assert list(versions.values()) == [1.0] and len(versions) == 1


def test_a_dead_workers_requests_still_count_but_it_is_no_longer_in_flight(two_workers, fake_openai):
    pid = two_workers.process.pid
    victim, survivor = sorted(_children(pid))
    with only(two_workers, victim):
        speak(two_workers)                                   # completed on the victim
        fake_openai.audio_seconds, fake_openai.chunk_size, fake_openai.chunk_delay = 20.0, 4096, 0.05
        stream = httpx.stream("POST", f"{two_workers.url}/v1/audio/speech",
                              json={**SPEECH, "response_format": "wav"}, headers=AUTH, timeout=10)
        response = stream.__enter__()
        chunks = response.iter_bytes()                       # kept: a dropped iterator closes the stream
        next(chunks)                                         # a long stream in flight on the victim
    try:
        with only(two_workers, survivor):
            before = scrape(two_workers.metrics_url)
        assert of(before, "audio_gateway_inflight_requests") == {frozenset(): 1.0}
        served = labels(endpoint="audio.speech", model="openai/tts-1", provider="openai", status="completed")
        counted = of(before, "audio_gateway_requests_total")[served]
        os.kill(victim, signal.SIGKILL)
        _wait_for_children(pid, lambda kids: len(kids) == 2 and victim not in kids)
        deadline = time.monotonic() + 5
        while of(after := scrape(two_workers.metrics_url), "audio_gateway_inflight_requests") != {frozenset(): 0.0}:
            assert time.monotonic() < deadline, of(after, "audio_gateway_inflight_requests")
            time.sleep(0.05)
        assert of(after, "audio_gateway_requests_total")[served] == counted   # a counter never goes back
    finally:
        try:
            stream.__exit__(None, None, None)
        except httpx.HTTPError:
            pass                                             # its worker was killed mid-stream
