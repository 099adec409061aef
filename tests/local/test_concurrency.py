"""More requests than workers: the excess gets 429 (nothing left to fall back to), none hangs, the loop stays free."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from ..conftest import CLIENT_KEYS
from .conftest import CLIP_30S, PASSAGE

LONG_TEXT = ((PASSAGE + " ") * 16)[:4000]   # minutes of audio: more than the sockets buffer


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}, timeout=60)


@pytest.fixture(scope="module")
def long_wav(local_gateway) -> bytes:
    """About 30 s of speech: a few seconds of Whisper work on this machine."""
    with _client(local_gateway.url) as http:
        response = http.post("/v1/audio/speech", json={"model": "local/espeak-ng", "voice": "alloy",
                                                        "input": CLIP_30S, "response_format": "wav"})
    assert response.status_code == 200
    return response.content


def test_transcriptions_beyond_the_pool_get_429_and_healthz_stays_fast(local_gateway, long_wav):
    url = local_gateway.url
    probes: list[float] = []
    done = threading.Event()

    def transcribe(_: int) -> httpx.Response:
        with _client(url) as http:
            return http.post("/v1/audio/transcriptions", data={"model": "whisper-1"},
                             files={"file": ("long.wav", long_wav, "audio/wav")})

    def probe() -> None:
        with httpx.Client(base_url=url, timeout=5) as http:
            while not done.is_set():
                started = time.perf_counter()
                assert http.get("/healthz").status_code == 200
                probes.append(time.perf_counter() - started)
                time.sleep(0.02)

    prober = threading.Thread(target=probe)
    started = time.monotonic()
    with ThreadPoolExecutor(3) as pool:
        prober.start()
        responses = list(pool.map(transcribe, range(3)))
    done.set()
    prober.join()
    elapsed = time.monotonic() - started

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 429, 429], [r.text for r in responses]    # one worker (transcription_workers: 1)
    for response in responses:
        if response.status_code == 429:
            error = response.json()["error"]
            assert error["code"] == "upstream_capacity_exhausted" and response.headers["retry-after"] == "1"
            assert [a["outcome"] for a in error["attempts"]] == ["not_configured", "not_configured", "busy"]
    assert elapsed < 45                                                # none hung
    assert len(probes) >= 10
    assert statistics.median(probes) < 0.05 and sorted(probes)[int(len(probes) * 0.9)] < 0.05, sorted(probes)[-5:]


def test_abandoned_speech_streams_free_their_slots(local_gateway):
    """Two streams held open fill both speech workers; closing them frees the slots for the next request."""
    body = {"model": "tts-1", "voice": "alloy", "input": LONG_TEXT, "response_format": "wav"}
    with _client(local_gateway.url) as first, _client(local_gateway.url) as second:
        held = [first.stream("POST", "/v1/audio/speech", json=body), second.stream("POST", "/v1/audio/speech", json=body)]
        for stream in held:
            assert stream.__enter__().status_code == 200                # first bytes arrived; nothing read
        with _client(local_gateway.url) as third:
            busy = third.post("/v1/audio/speech", json=body)
        assert busy.status_code == 429, busy.text
        assert busy.json()["error"]["code"] == "upstream_capacity_exhausted"
        for stream in held:
            stream.__exit__(None, None, None)
    deadline = time.monotonic() + 10
    with _client(local_gateway.url) as fourth:
        while True:
            served = fourth.post("/v1/audio/speech", json={**body, "input": "Freed."})
            if served.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert served.status_code == 200, served.text
    assert served.headers["x-gateway-provider"] == "local"
