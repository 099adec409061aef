"""POST /v1/jobs bodies: the JSON cap holds while the body streams in (413, like speech), deep JSON and a
multipart body cut short are 400s, and none of them leaves a job behind. RSS under a 300 MB body is
measured by benchmarks/body_cap.py."""

from __future__ import annotations

import select
import socket

import httpx
import msgspec
import pytest

from audio_gateway.api.json_depth import MAX_JSON_DEPTH

from ..audio_samples import make_wav
from ..conftest import CLIENT_KEYS

KEY = CLIENT_KEYS["alice"].encode()
CAP = 2 * 1024 * 1024
SPEECH = {"model": "tts-1", "voice": "alloy", "input": "Hello."}


def _job_ids(http: httpx.Client) -> list[str]:
    return [job["id"] for job in http.get("/v1/jobs", params={"limit": 100}).json()["data"]]


def _connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=10)
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict]:
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split(b" ")[1]), msgspec.json.decode(body)["error"]


def _assert_too_large(status: int, error: dict) -> None:
    assert status == 413
    assert (error["type"], error["code"]) == ("invalid_request_error", "request_too_large")
    assert "2 MiB" in error["message"]


def test_an_announced_length_over_the_cap_is_refused_before_any_byte_is_read(alice, jobs_gateway):
    before = _job_ids(alice)
    with _connect(jobs_gateway) as sock:
        sock.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + KEY
                     + b"\r\nContent-Type: application/json\r\nContent-Length: 300000000\r\n\r\n")
        _assert_too_large(*_read_response(sock))  # no body byte was sent at all
    assert _job_ids(alice) == before


def test_a_chunked_body_is_cut_off_at_the_cap_while_it_streams(alice, jobs_gateway):
    """Without a length the cap is counted on the bytes received: the 413 arrives once just over 2 MiB
    are in, while the client is still sending (an endless body would otherwise be read forever)."""
    before = _job_ids(alice)
    chunk = b"x" * 65536
    sent = 0
    with _connect(jobs_gateway) as sock:
        sock.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + KEY
                     + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in [b'{"model": "tts-1", "input": "'] + [chunk] * (16 * CAP // len(chunk)):
            if select.select([sock], [], [], 0)[0]:
                break  # the answer is in
            try:
                sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            except OSError:  # the server stopped reading (closed or reset): the answer is waiting
                break
            sent += len(piece)
        _assert_too_large(*_read_response(sock))
    assert sent < 4 * CAP  # answered long before the body could have ended
    assert _job_ids(alice) == before


def test_speech_and_jobs_answer_the_same_413(client, alice):
    speech = client.post("/v1/audio/speech", content=b"x" * (1024 * 1024 + 1), headers={"Content-Type": "application/json"})
    job = alice.post("/v1/jobs", content=b"x" * (CAP + 1), headers={"Content-Type": "application/json"})
    for response, size in ((speech, "1 MiB"), (job, "2 MiB")):
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert error["code"] == "request_too_large" and size in error["message"]
    assert speech.json()["error"]["message"].replace("1 MiB", "2 MiB") == job.json()["error"]["message"]


def test_a_body_just_under_the_cap_is_read_and_validated(alice):
    body = msgspec.json.encode({**SPEECH, "input": "a" * (CAP - 100)})
    assert len(body) < CAP
    response = alice.post("/v1/jobs", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "input"  # too long for tts-1 jobs


@pytest.mark.parametrize("depth, status", [(MAX_JSON_DEPTH, 202), (MAX_JSON_DEPTH + 1, 400), (1_000, 400)])
def test_nesting_at_and_over_the_limit(alice, depth, status):
    inner = depth - 1
    body = msgspec.json.encode(SPEECH)[:-1] + b', "extra": ' + b"[" * inner + b"]" * inner + b"}"
    before = _job_ids(alice)
    response = alice.post("/v1/jobs", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["error"]["code"] == "json_too_deep"
        assert _job_ids(alice) == before


def test_a_multipart_job_cut_short_is_a_400_and_queues_nothing(alice):
    before = _job_ids(alice)
    body = (b'--cut\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
            b'--cut\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
            b"Content-Type: audio/wav\r\n\r\n" + make_wav(1.0))
    response = alice.post("/v1/jobs", content=body, headers={"Content-Type": "multipart/form-data; boundary=cut"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_multipart"
    assert _job_ids(alice) == before
