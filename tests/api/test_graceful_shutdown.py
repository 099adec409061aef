"""SIGTERM to `audio-gateway serve`: stop accepting, let in-flight streams finish within the grace period,
then close upstream connections and exit 0."""

from __future__ import annotations

import signal
import threading
import time

import httpx

from ..conftest import CLIENT_KEYS, provider_env
from ..fakes import synthesize
from ..support.services import GatewayProcess

SPEECH = {"model": "tts-1", "voice": "alloy", "input": "Finish what you started.", "response_format": "wav"}
AUTH = {"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}


def _slow_stream(fake_openai, seconds: float) -> None:
    fake_openai.audio_seconds = seconds     # 48 kB of wav per second, 4 kB every 50 ms: about 0.6 s per second
    fake_openai.chunk_size = 4096
    fake_openai.chunk_delay = 0.05


def _wait_until_closed(gateway: GatewayProcess, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while gateway.accepts_connections():
        assert time.monotonic() < deadline, "the gateway kept accepting connections after SIGTERM"
        time.sleep(0.02)


def test_sigterm_lets_an_inflight_stream_finish_and_refuses_new_connections(fake_openai, fake_siliconflow, tmp_path):
    gateway = GatewayProcess(provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_SHUTDOWN_GRACE="20",
                                          AUDIO_GATEWAY_UPSTREAM_TIMEOUT="5"), tmp_path / "gateway.log")
    try:
        _slow_stream(fake_openai, 2.0)
        with httpx.stream("POST", f"{gateway.url}/v1/audio/speech", json=SPEECH, headers=AUTH, timeout=20) as response:
            chunks = response.iter_bytes()
            received = len(next(chunks))
            gateway.process.send_signal(signal.SIGTERM)
            _wait_until_closed(gateway)
            received += sum(len(chunk) for chunk in chunks)
        assert response.status_code == 200
        assert received == len(synthesize("wav", 2.0))          # every byte the provider sent
        assert gateway.process.wait(10) == 0
        log = gateway.log_path.read_text()
        assert "Traceback" not in log
    finally:
        gateway.stop()


def test_a_stream_still_running_after_the_grace_period_is_cut_and_its_upstream_closed(
        fake_openai, fake_siliconflow, tmp_path):
    gateway = GatewayProcess(provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_SHUTDOWN_GRACE="0.5",
                                          AUDIO_GATEWAY_UPSTREAM_TIMEOUT="5"), tmp_path / "gateway.log")
    try:
        _slow_stream(fake_openai, 20.0)                          # ~12 s of streaming: far past the grace period
        outcome: dict[str, object] = {}

        def read_all() -> None:
            try:
                with httpx.stream("POST", f"{gateway.url}/v1/audio/speech", json=SPEECH, headers=AUTH,
                                  timeout=20) as response:
                    outcome["bytes"] = sum(len(chunk) for chunk in response.iter_bytes())
            except httpx.HTTPError as exc:
                outcome["error"] = exc

        reader = threading.Thread(target=read_all)
        reader.start()
        fake_openai.wait_for_requests(1)
        started = time.monotonic()
        gateway.process.send_signal(signal.SIGTERM)
        assert gateway.process.wait(10) == 0
        assert time.monotonic() - started < 5                   # grace 0.5 s, not the 12 s the stream wanted
        reader.join(10)
        assert "error" in outcome or outcome["bytes"] < len(synthesize("wav", 20.0))
        assert fake_openai.wait_for_disconnects(1)              # the upstream stream was closed, not leaked
    finally:
        gateway.stop()
