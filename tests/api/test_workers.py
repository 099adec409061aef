"""`serve --workers N`: forked workers on one socket, a supervisor that replaces them and stops them cleanly."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from audio_gateway.settings import Settings, SettingsError

from ..conftest import provider_env
from ..fakes import synthesize
from ..support.services import GatewayProcess
from ..test_cli import run_cli
from .test_graceful_shutdown import AUTH, SPEECH, _slow_stream, _wait_until_closed


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found.update(int(child) for child in f.read().split())
    return found


def _wait_for_children(pid: int, check, timeout: float = 5.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while not check(children := _children(pid)):
        assert time.monotonic() < deadline, f"the supervisor's children stayed {sorted(children)}"
        time.sleep(0.02)
    return children


def _speak(url: str) -> None:
    """One speech request on a fresh connection, so whichever worker accepts it is free to."""
    response = httpx.post(f"{url}/v1/audio/speech", json=SPEECH, headers=AUTH, timeout=5)
    assert response.status_code == 200, response.text
    assert response.content == synthesize("wav", 0.5)


def _speak_while_stopped(gateway: GatewayProcess, paused: int) -> None:
    """With one worker frozen (SIGSTOP) only the other can accept: a success shows that one serves."""
    os.kill(paused, signal.SIGSTOP)
    try:
        _speak(gateway.url)
    finally:
        os.kill(paused, signal.SIGCONT)


@pytest.fixture
def two_workers(fake_openai, fake_siliconflow, tmp_path):
    gateway = GatewayProcess(provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_WORKERS="2",
                                          AUDIO_GATEWAY_SHUTDOWN_GRACE="5", AUDIO_GATEWAY_UPSTREAM_TIMEOUT="5"),
                             tmp_path / "gateway.log")
    yield gateway
    try:
        os.killpg(gateway.process.pid, signal.SIGKILL)    # the workers too, whatever the test left behind
    except ProcessLookupError:
        pass
    gateway.stop()


def test_two_forked_workers_each_serve_requests(two_workers):
    workers = _children(two_workers.process.pid)
    assert len(workers) == 2
    for _ in range(3):
        _speak(two_workers.url)
    first, second = sorted(workers)
    _speak_while_stopped(two_workers, first)
    _speak_while_stopped(two_workers, second)
    assert _children(two_workers.process.pid) == workers


def test_a_killed_worker_is_replaced_and_requests_keep_succeeding(two_workers):
    pid = two_workers.process.pid
    victim, survivor = sorted(_children(pid))
    os.kill(victim, signal.SIGKILL)
    workers = _wait_for_children(pid, lambda kids: len(kids) == 2 and victim not in kids)
    assert survivor in workers
    (replacement,) = workers - {survivor}
    _speak_while_stopped(two_workers, survivor)             # the replacement serves
    for _ in range(3):
        _speak(two_workers.url)
    assert f"worker {victim} was killed by SIGKILL unexpectedly" in two_workers.log_path.read_text()
    assert _children(pid) == {survivor, replacement}


def test_sigterm_drains_an_inflight_stream_then_the_supervisor_exits_0_leaving_no_worker(two_workers, fake_openai):
    workers = _children(two_workers.process.pid)
    _slow_stream(fake_openai, 2.0)
    with httpx.stream("POST", f"{two_workers.url}/v1/audio/speech", json=SPEECH, headers=AUTH,
                      timeout=10) as response:
        chunks = response.iter_bytes()
        received = len(next(chunks))
        started = time.monotonic()
        two_workers.process.send_signal(signal.SIGTERM)
        _wait_until_closed(two_workers)
        received += sum(len(chunk) for chunk in chunks)
    assert response.status_code == 200
    assert received == len(synthesize("wav", 2.0))
    assert two_workers.process.wait(5) == 0                 # AUDIO_GATEWAY_SHUTDOWN_GRACE=5
    assert time.monotonic() - started < 5
    assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")]   # reaped, not zombies or orphans
    assert "Traceback" not in two_workers.log_path.read_text()


@pytest.mark.parametrize(("raw", "message"), [("0", "AUDIO_GATEWAY_WORKERS must be at least 1, got 0"),
                                              ("-2", "AUDIO_GATEWAY_WORKERS must be at least 1, got -2"),
                                              ("abc", "AUDIO_GATEWAY_WORKERS must be an integer, got 'abc'")])
def test_workers_setting_rejects_what_is_not_a_positive_integer(raw, message):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"AUDIO_GATEWAY_WORKERS": raw})
    assert str(caught.value) == message


def test_workers_setting_defaults_to_one_process():
    assert Settings.from_env({}).workers == 1
    assert Settings.from_env({"AUDIO_GATEWAY_WORKERS": " 4 "}).workers == 4


def test_serve_reports_a_bad_workers_value_clearly():
    result = run_cli("serve", env={"AUDIO_GATEWAY_WORKERS": "abc"})
    assert result.returncode == 2
    assert "AUDIO_GATEWAY_WORKERS must be an integer, got 'abc'" in result.stderr
    result = run_cli("serve", "--workers", "0")
    assert result.returncode == 2
    assert "--workers: must be at least 1, got 0" in result.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_exits_3_when_the_app_cannot_start(workers, tmp_path):
    """The lifespan fails (S3's endpoint is not a URL): with one process or many, `serve` stops with uvicorn's
    status for it, and the supervisor does not keep forking workers that would fail the same way."""
    env = {"AUDIO_GATEWAY_QUEUE_URL": "redis://127.0.0.1:1/0", "AUDIO_GATEWAY_S3_BUCKET": "jobs",
           "AWS_ENDPOINT_URL": "not a url", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AUDIO_GATEWAY_DATA_DIR": str(tmp_path)}  # its ledger, out of the repository
    result = run_cli("serve", "--port", "0", "--workers", workers, env=env)
    assert result.returncode == 3, result.stderr[-2000:]
    assert "Application startup failed" in result.stderr
