"""Bounded everything: oversized heads, bodies and form parts, and clients that stall, all get a clear 4xx in
OpenAI's error shape (or, for a connection that never said anything, a hang-up), never a hang."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from ..audio_samples import make_wav
from ..conftest import CLIENT_KEYS, provider_env
from ..fakes import synthesize
from ..support.server_thread import GatewayServer

KEY = CLIENT_KEYS["alice"]
CLIENT_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def strict(fake_openai, fake_siliconflow):
    server = GatewayServer(provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_CLIENT_TIMEOUT=str(CLIENT_TIMEOUT),
                                        AUDIO_GATEWAY_MAX_HEADER_BYTES="8192")).start()
    yield server
    server.stop()


def _port(server: GatewayServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def exchange(server: GatewayServer, data: bytes, wait: float = 5.0) -> bytes:
    """Send raw bytes, then read until the server closes or answers completely."""
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=wait) as sock:
        sock.sendall(data)
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return received
            received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), None)
            if length is not None and len(body) >= length:
                return received


def status_and_error(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), httpx.Response(200, content=body).json()["error"]


def assert_openai_error(error: dict) -> None:
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]


def test_an_oversized_header_is_431(strict):
    status, error = status_and_error(exchange(strict, b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: "
                                                      + b"x" * 20_000 + b"\r\n\r\n"))
    assert status == 431
    assert error["code"] == "request_header_too_large"
    assert_openai_error(error)


def test_many_small_headers_adding_up_are_431_too(strict):
    headers = b"".join(b"X-H%d: value\r\n" % i for i in range(2000))
    status, _ = status_and_error(exchange(strict, b"GET /healthz HTTP/1.1\r\nHost: a\r\n" + headers + b"\r\n"))
    assert status == 431


def test_a_head_sent_in_pieces_under_the_limit_is_served(strict):
    with socket.create_connection(("127.0.0.1", _port(strict)), timeout=5) as sock:
        for piece in (b"GET /heal", b"thz HTTP/1.1\r\nHo", b"st: a\r\n\r\n"):
            sock.sendall(piece)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")


def test_a_head_that_never_completes_is_408(strict):
    started = time.monotonic()
    status, error = status_and_error(exchange(strict, b"GET /healthz HTTP/1.1\r\nHost: a\r\n"))
    assert status == 408 and error["code"] == "client_timeout"
    assert_openai_error(error)
    assert CLIENT_TIMEOUT <= time.monotonic() - started < CLIENT_TIMEOUT + 2


def test_a_connection_that_never_sends_anything_is_closed(strict):
    started = time.monotonic()
    assert exchange(strict, b"") == b""
    assert time.monotonic() - started < CLIENT_TIMEOUT + 2


def test_a_body_that_stalls_is_408(strict):
    head = (b"POST /v1/audio/speech HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + KEY.encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n")
    status, error = status_and_error(exchange(strict, head + b'{"model": "tts-1", '))
    assert status == 408 and error["code"] == "client_timeout"
    assert_openai_error(error)


def test_an_upload_that_stalls_is_408_not_a_multipart_error(strict, fake_openai):
    boundary = b"b0undary"
    part = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
            b"Content-Type: audio/wav\r\n\r\n" + make_wav(1.0)[:5000])
    head = (b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + KEY.encode()
            + b"\r\nContent-Type: multipart/form-data; boundary=" + boundary + b"\r\nContent-Length: 900000\r\n\r\n")
    status, error = status_and_error(exchange(strict, head + part))
    assert status == 408 and error["code"] == "client_timeout"
    assert fake_openai.hits == 0


def test_a_json_body_over_1_mib_is_413(strict):
    response = httpx.post(f"{strict.url}/v1/audio/speech", headers={"Authorization": f"Bearer {KEY}"},
                          content=b'{"model": "tts-1", "voice": "alloy", "input": "' + b"a" * (2 * 1024 * 1024) + b'"}',
                          timeout=10)
    assert response.status_code == 413
    assert_openai_error(response.json()["error"])


def test_form_part_headers_are_bounded(strict):
    files = {"file": ("a.wav", make_wav(0.5), "audio/wav")}
    response = httpx.post(f"{strict.url}/v1/audio/transcriptions", headers={"Authorization": f"Bearer {KEY}"},
                          data={"model": "whisper-1"}, files=files, timeout=10)
    assert response.status_code == 200
    boundary = "xyz"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\nX-Padding: {"p" * 70_000}\r\n\r\n'
            f"whisper-1\r\n--{boundary}--\r\n").encode()
    response = httpx.post(f"{strict.url}/v1/audio/transcriptions", content=body, timeout=10,
                          headers={"Authorization": f"Bearer {KEY}",
                                   "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 400                  # python-multipart caps part header lines at ~4 KiB
    error = response.json()["error"]
    assert error["code"] == "invalid_multipart" and "header" in error["message"]


def test_a_stream_longer_than_the_client_timeout_is_not_cut(strict, fake_openai):
    fake_openai.audio_seconds = 2.0
    fake_openai.chunk_size = 8192
    fake_openai.chunk_delay = 0.1        # ~1.2 s of streaming, more than twice the client timeout
    with httpx.stream("POST", f"{strict.url}/v1/audio/speech", headers={"Authorization": f"Bearer {KEY}"},
                      json={"model": "tts-1", "voice": "alloy", "input": "Take your time.", "response_format": "wav"},
                      timeout=10) as response:
        received = sum(len(chunk) for chunk in response.iter_bytes())
    assert response.status_code == 200
    assert received == len(synthesize("wav", 2.0))


def test_malformed_http_is_400_in_openai_shape(strict):
    status, error = status_and_error(exchange(strict, b"GET /healthz HTTP/1.1\r\nHost a\r\nbroken\r\n\r\n"))
    assert status == 400 and error["code"] == "invalid_http_request"
    assert_openai_error(error)
