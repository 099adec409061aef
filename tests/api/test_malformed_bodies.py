"""Bodies a clumsy or hostile client sends: nested too deep, multipart cut short. A 400 naming the body,
in OpenAI's shape, before any provider is called; never a 500 or a traceback."""

from __future__ import annotations

import httpx
import pytest

from audio_gateway.api.json_depth import MAX_JSON_DEPTH

from ..audio_samples import make_wav

SPEECH = b'{"model": "tts-1", "voice": "alloy", "input": "Hello.", "extra": '


def speech_nested(depth: int) -> bytes:
    """A valid speech request whose ignored `extra` field makes the whole body nest `depth` levels."""
    inner = depth - 1  # the body's own object is one level
    return SPEECH + b"[" * inner + b"]" * inner + b"}"


def assert_too_deep(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error == {"message": error["message"], "type": "invalid_request_error", "param": None,
                     "code": "json_too_deep"}
    assert "JSON body" in error["message"] and str(MAX_JSON_DEPTH) in error["message"]


def test_a_body_at_the_depth_limit_is_parsed_and_served(client, fake_openai):
    response = client.post("/v1/audio/speech", content=speech_nested(MAX_JSON_DEPTH),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert fake_openai.hits == 1


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
def test_a_body_one_level_over_the_limit_or_far_over_is_a_400(client, fake_openai, depth):
    """1,000 levels in 2 KB was the issue's 500 (RecursionError); 100,000 is past any recursion limit."""
    assert_too_deep(client.post("/v1/audio/speech", content=speech_nested(depth),
                                headers={"Content-Type": "application/json"}))
    assert fake_openai.hits == 0


def test_a_large_deep_body_is_refused_without_stalling_other_requests(client, gateway):
    body = b'{"model": "tts-1", "x": ' + b"[" * 400_000 + b"]" * 400_000 + b"}"
    assert_too_deep(client.post("/v1/audio/speech", content=body, headers={"Content-Type": "application/json"}))
    assert httpx.get(f"{gateway.url}/healthz").status_code == 200


def _multipart(boundary: bytes, *, close: bool) -> bytes:
    body = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
            b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
            b"Content-Type: audio/wav\r\n\r\n" + make_wav(1.0) + b"\r\n")
    return body + (b"--" + boundary + b"--\r\n" if close else b"")


@pytest.mark.parametrize("path", ["/v1/audio/transcriptions", "/v1/audio/translations"])
def test_a_multipart_body_without_its_closing_boundary_is_a_400(client, fake_openai, path):
    headers = {"Content-Type": "multipart/form-data; boundary=cut"}
    response = client.post(path, content=_multipart(b"cut", close=False), headers=headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_multipart")
    assert "closing boundary" in error["message"]
    assert fake_openai.hits == 0
    whole = client.post(path, content=_multipart(b"cut", close=True), headers=headers)
    assert whole.status_code == 200, whole.text  # the same body, closed, is served
