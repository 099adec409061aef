"""The fakes themselves: real audio, true wire shapes, and every fault, checked over real loopback HTTP."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
from collections.abc import Iterator

import av
import httpx
import openai
import pytest

from tests.fakes import (
    AUDIO_FORMATS,
    DEFAULT_TRANSCRIPT,
    FakeOpenAI,
    FakeSiliconFlow,
    Fault,
    HttpServer,
    Request,
    Responder,
    probe_duration,
    speech_usage,
    synthesize,
    transcription_token_usage,
)
from tests.fakes.siliconflow_fake import ERROR_BODIES

OPENAI_KEY = "sk-test-openai"
SF_KEY = "sk-test-siliconflow"
TIMEOUT = httpx.Timeout(3.0)
SPEECH = {"model": "tts-1", "input": "Hello there.", "voice": "alloy"}
SF_MODEL = "FunAudioLLM/CosyVoice2-0.5B"
SF_SPEECH = {"model": SF_MODEL, "input": "你好", "voice": f"{SF_MODEL}:anna"}
CONNECTION_ERRORS = (httpx.ReadError, httpx.ConnectError, httpx.RemoteProtocolError)


@pytest.fixture(scope="module")
def oai_fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI.start(api_key=OPENAI_KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def sf_fake() -> Iterator[FakeSiliconFlow]:
    with FakeSiliconFlow.start(api_key=SF_KEY) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    for name in ("oai_fake", "sf_fake"):
        if name in request.fixturenames:
            request.getfixturevalue(name).reset()


@pytest.fixture
def oai(oai_fake: FakeOpenAI) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=oai_fake.url, headers={"authorization": f"Bearer {OPENAI_KEY}"}, timeout=TIMEOUT) as c:
        yield c


@pytest.fixture
def sf(sf_fake: FakeSiliconFlow) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sf_fake.url, headers={"authorization": f"Bearer {SF_KEY}"}, timeout=TIMEOUT) as c:
        yield c


@pytest.fixture
def sdk(oai_fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key=OPENAI_KEY, base_url=oai_fake.url, max_retries=0, timeout=3.0) as client:
        yield client


def decoded_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.rate


def wav_upload(seconds: float = 1.3) -> tuple[str, bytes, str]:
    return ("clip.wav", synthesize("wav", seconds), "audio/wav")


def assert_openai_error(response: httpx.Response, status: int, code: object = None) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"].startswith("req_")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    return error


# -- audio ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [f for f in AUDIO_FORMATS if f != "pcm"])
def test_synthesized_audio_decodes_to_requested_length(fmt: str) -> None:
    assert decoded_seconds(synthesize(fmt, 0.5)) == pytest.approx(0.5, abs=0.06)
    assert probe_duration(synthesize(fmt, 0.5)) == pytest.approx(0.5, abs=0.06)


def test_pcm_and_wav_sizes() -> None:
    assert len(synthesize("pcm", 0.5)) == 24000
    wav = synthesize("wav", 0.5)
    assert wav[:4] == b"RIFF" and int.from_bytes(wav[4:8], "little") == len(wav) - 8
    assert synthesize("wav", 0.5) is wav  # cached


def test_probe_rejects_non_audio() -> None:
    assert probe_duration(b"definitely not audio") is None


# -- OpenAI speech ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("mp3", "audio/mpeg"), ("opus", "audio/opus"), ("aac", "audio/aac"), ("flac", "audio/flac"),
     ("wav", "audio/wav"), ("pcm", "audio/pcm")],
)  # fmt: skip
def test_openai_speech_formats(oai: httpx.Client, fmt: str, content_type: str) -> None:
    response = oai.post("/audio/speech", json={**SPEECH, "response_format": fmt})
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["openai-processing-ms"].isdigit()
    if fmt == "pcm":
        assert len(response.content) == 24000  # 0.5 s of s16le mono at 24 kHz
    else:
        assert decoded_seconds(response.content) == pytest.approx(0.5, abs=0.06)


def test_openai_speech_sse(oai_fake: FakeOpenAI, oai: httpx.Client) -> None:
    oai_fake.chunk_size = 1000
    body = {**SPEECH, "model": "gpt-4o-mini-tts", "instructions": "Cheerful.", "stream_format": "sse"}
    response = oai.post("/audio/speech", json=body)
    assert response.headers["content-type"] == "text/event-stream"
    events = [block.removeprefix("data: ") for block in response.text.split("\n\n") if block]
    assert events[-1] == "[DONE]"
    parsed = [json.loads(event) for event in events[:-1]]
    deltas, done = parsed[:-1], parsed[-1]
    audio = synthesize("mp3", 0.5)
    assert len(deltas) == -(-len(audio) // 1000)
    assert all(event["type"] == "speech.audio.delta" for event in deltas)
    assert b"".join(base64.b64decode(event["audio"]) for event in deltas) == audio
    assert done == {"type": "speech.audio.done", "usage": speech_usage("Hello there.", "Cheerful.", 0.5)}
    assert done["usage"] == {"input_tokens": 7, "output_tokens": 10, "total_tokens": 17}  # o200k: 3 + 4 tokens


def test_openai_speech_with_sdk_streaming(sdk: openai.OpenAI, oai_fake: FakeOpenAI) -> None:
    oai_fake.audio_seconds = 1.0
    with sdk.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice={"id": "voice_123"}, input="Hi", response_format="wav", speed=1.5
    ) as response:
        audio = response.read()
    assert decoded_seconds(audio) == pytest.approx(1.0, abs=0.01)
    recorded = oai_fake.requests[-1]
    assert recorded.json["voice"] == {"id": "voice_123"}
    assert recorded.headers["x-stainless-raw-response"] == "stream"


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({**SPEECH, "input": "x" * 4097}, 400, "string_above_max_length", "input"),
        ({**SPEECH, "instructions": "Whisper."}, 400, "unsupported_parameter", "instructions"),
        ({**SPEECH, "stream_format": "sse"}, 400, "unsupported_value", "stream_format"),
        ({**SPEECH, "speed": 4.5}, 400, "decimal_above_max_value", "speed"),
        ({**SPEECH, "speed": 0.1}, 400, "decimal_below_min_value", "speed"),
        ({**SPEECH, "voice": "bob"}, 400, "invalid_value", "voice"),
        ({**SPEECH, "response_format": "ogg"}, 400, "invalid_value", "response_format"),
        ({**SPEECH, "model": "tts-2"}, 404, "model_not_found", None),
        ({"model": "tts-1", "input": "hi"}, 400, "missing_required_parameter", "voice"),
        ({**SPEECH, "stream": True}, 400, None, None),
    ],
)
def test_openai_speech_validation(oai: httpx.Client, body: dict, status: int, code: str, param: str) -> None:
    error = assert_openai_error(oai.post("/audio/speech", json=body), status, code)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"


def test_openai_speech_bad_json(oai: httpx.Client) -> None:
    response = oai.post("/audio/speech", content=b"{nope", headers={"content-type": "application/json"})
    assert "could not parse the JSON body" in assert_openai_error(response, 400)["message"]


def test_openai_unknown_path(oai: httpx.Client) -> None:
    error = assert_openai_error(oai.post("/audio/nothing", json={}), 404)
    assert error["message"] == "Invalid URL (POST /v1/audio/nothing)"


# -- OpenAI transcriptions / translations ----------------------------------------------------------------


def test_openai_verbose_json_with_sdk_and_recording(sdk: openai.OpenAI, oai_fake: FakeOpenAI) -> None:
    result = sdk.audio.transcriptions.create(
        model="whisper-1",
        file=wav_upload(),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
        language="de",
    )
    assert result.language == "german"
    assert result.duration == pytest.approx(1.3)
    assert result.text == DEFAULT_TRANSCRIPT
    assert [s.text for s in result.segments] == [" Hello from the fake transcriber.", " It has two sentences."]
    assert result.segments[-1].end == pytest.approx(1.3)
    assert result.words[0].word == "Hello" and result.words[-1].end == pytest.approx(1.3)
    raw = oai_fake.requests[-1]
    assert raw.form["timestamp_granularities[]"] == ["word", "segment"]
    assert raw.form["model"] == "whisper-1" and raw.form["language"] == "de"
    assert raw.file is not None
    assert (raw.file.filename, raw.file.data, raw.file.content_type) == wav_upload()
    body = httpx.post(
        f"{oai_fake.url}/audio/transcriptions",
        headers={"authorization": f"Bearer {OPENAI_KEY}"},
        files={"file": wav_upload()},
        data={"model": "whisper-1", "response_format": "verbose_json"},
    ).json()
    assert list(body) == ["task", "language", "duration", "text", "segments", "usage"]
    assert body["usage"] == {"type": "duration", "seconds": 2}
    assert set(body["segments"][0]) == {
        "id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob", "compression_ratio",
        "no_speech_prob",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "content_type", "expected"),
    [
        ("json", "application/json", '{"text":"%s","usage":{"type":"duration","seconds":2}}' % DEFAULT_TRANSCRIPT),
        ("text", "text/plain; charset=utf-8", DEFAULT_TRANSCRIPT + "\n"),
        ("srt", "text/plain; charset=utf-8",
         "1\n00:00:00,000 --> 00:00:00,780\nHello from the fake transcriber.\n\n"
         "2\n00:00:00,780 --> 00:00:01,300\nIt has two sentences.\n\n"),
        ("vtt", "text/plain; charset=utf-8",
         "WEBVTT\n\n00:00:00.000 --> 00:00:00.780\nHello from the fake transcriber.\n\n"
         "00:00:00.780 --> 00:00:01.300\nIt has two sentences.\n\n"),
    ],
)  # fmt: skip
def test_openai_transcription_formats(oai: httpx.Client, fmt: str, content_type: str, expected: str) -> None:
    data = {"model": "whisper-1", "response_format": fmt}
    response = oai.post("/audio/transcriptions", files={"file": wav_upload()}, data=data)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.text == expected


def test_openai_translation_verbose(oai: httpx.Client, oai_fake: FakeOpenAI) -> None:
    oai_fake.transcript_text = "Only one sentence here."
    data = {"model": "whisper-1", "response_format": "verbose_json"}
    body = oai.post("/audio/translations", files={"file": wav_upload(2.0)}, data=data).json()
    assert (body["task"], body["language"], body["duration"]) == ("translate", "english", 2.0)
    assert body["text"] == "Only one sentence here." and "usage" not in body
    assert [(s["start"], s["end"]) for s in body["segments"]] == [(0.0, 2.0)]
    plain = oai.post("/audio/translations", files={"file": wav_upload()}, data={"model": "whisper-1"})
    assert plain.json() == {"text": "Only one sentence here."}


def test_openai_gpt4o_transcribe(oai: httpx.Client) -> None:
    data = {"model": "gpt-4o-transcribe", "prompt": "two words"}
    body = oai.post("/audio/transcriptions", files={"file": wav_upload()}, data=data).json()
    usage = transcription_token_usage(DEFAULT_TRANSCRIPT, "two words", 1.3)
    assert body == {"text": DEFAULT_TRANSCRIPT, "usage": usage}
    assert usage == {
        "type": "tokens",
        "input_tokens": 15,
        "input_token_details": {"text_tokens": 2, "audio_tokens": 13},
        "output_tokens": 10,
        "total_tokens": 25,
    }
    bad = oai.post(
        "/audio/transcriptions", files={"file": wav_upload()}, data={**data, "response_format": "verbose_json"}
    )
    assert assert_openai_error(bad, 400, "unsupported_value")["param"] == "response_format"


@pytest.mark.parametrize(
    ("files", "data", "code", "message_start"),
    [
        (None, {"model": "whisper-1"}, None, "1 validation error for Request\nbody -> file"),
        ({"file": ("x.mp3", b"not audio", "audio/mpeg")}, {"model": "whisper-1"}, None, "Invalid file format."),
        ({"file": ("clip.txt", synthesize("wav", 1), "text/plain")}, {"model": "whisper-1"}, None,
         "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', "
         "'webm']"),
        ({"file": ("s.wav", synthesize("wav", 0.05), "audio/wav")}, {"model": "whisper-1"}, "audio_too_short", "Audio"),
        ({"file": wav_upload()}, {"model": "whisper-1", "timestamp_granularities[]": "word"}, "unsupported_value",
         "timestamp_granularities"),
        ({"file": wav_upload()}, {"model": "whisper-1", "language": "english"}, "invalid_language_format", "Invalid"),
    ],
)  # fmt: skip
def test_openai_transcription_errors(oai: httpx.Client, files, data, code, message_start) -> None:  # noqa: ANN001
    if files is None:
        files = {"other": ("x.wav", b"x", "audio/wav")}
    response = oai.post("/audio/transcriptions", files=files, data=data)
    assert assert_openai_error(response, 400, code)["message"].startswith(message_start)


def test_openai_unknown_stt_model(oai: httpx.Client) -> None:
    response = oai.post("/audio/transcriptions", files={"file": wav_upload()}, data={"model": "whisper-2"})
    assert_openai_error(response, 404, "model_not_found")


# -- OpenAI auth and status faults ------------------------------------------------------------------------


def test_openai_wrong_key_with_sdk(oai_fake: FakeOpenAI) -> None:
    with openai.OpenAI(api_key="sk-test-wrong-key", base_url=oai_fake.url, max_retries=0, timeout=3.0) as client:
        with pytest.raises(openai.AuthenticationError) as raised:
            client.audio.speech.create(model="tts-1", voice="alloy", input="hi")
    assert raised.value.code == "invalid_api_key"
    assert raised.value.body["message"].startswith("Incorrect API key provided: sk-te********-key. ")


def test_openai_missing_key(oai_fake: FakeOpenAI) -> None:
    response = httpx.post(f"{oai_fake.url}/audio/speech", json=SPEECH, timeout=TIMEOUT)
    assert assert_openai_error(response, 401)["message"].startswith("You didn't provide an API key.")


@pytest.mark.parametrize(
    ("fault", "status", "type_", "code"),
    [
        (Fault.HTTP_400, 400, "invalid_request_error", None),
        (Fault.HTTP_401, 401, "invalid_request_error", "invalid_api_key"),
        (Fault.HTTP_403, 403, "request_forbidden", "unsupported_country_region_territory"),
        (Fault.HTTP_404, 404, "invalid_request_error", "model_not_found"),
        (Fault.HTTP_413, 413, "server_error", None),
        (Fault.HTTP_429, 429, "requests", "rate_limit_exceeded"),
        (Fault.HTTP_500, 500, "server_error", None),
        (Fault.HTTP_502, 502, "cf_bad_gateway", 502),
        (Fault.HTTP_503, 503, "server_error", None),
        (Fault.HTTP_504, 504, "cf_gateway_timeout", 504),
    ],
)
def test_openai_status_faults(
    oai_fake: FakeOpenAI, oai: httpx.Client, fault: Fault, status: int, type_: str, code: str | int | None
) -> None:
    oai_fake.inject(fault)
    response = oai.post("/audio/speech", json=SPEECH)
    assert assert_openai_error(response, status, code)["type"] == type_
    assert ("retry-after" in response.headers) == (status == 429)
    assert oai.post("/audio/speech", json=SPEECH).status_code == 200  # times=1 by default


def test_openai_503_body_is_exact(oai_fake: FakeOpenAI, oai: httpx.Client) -> None:
    oai_fake.inject("http_503")
    assert oai.post("/audio/speech", json=SPEECH).json() == {
        "error": {
            "message": "The engine is currently overloaded, please try again later",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }


def test_429_retry_after_is_configurable(oai_fake: FakeOpenAI, oai: httpx.Client, sdk: openai.OpenAI) -> None:
    oai_fake.inject(Fault.HTTP_429, times=2)
    assert oai.post("/audio/speech", json=SPEECH).headers["retry-after"] == "1"
    oai_fake.retry_after = "7"
    with pytest.raises(openai.RateLimitError) as raised:
        sdk.audio.speech.create(model="tts-1", voice="alloy", input="hi")
    assert raised.value.response.headers["retry-after"] == "7"
    assert raised.value.code == "rate_limit_exceeded"


def test_openai_413_over_size_limit(oai_fake: FakeOpenAI, oai: httpx.Client) -> None:
    oai_fake.max_body_bytes = 1000
    response = oai.post("/audio/transcriptions", files={"file": wav_upload()}, data={"model": "whisper-1"})
    error = assert_openai_error(response, 413)
    assert error["message"].startswith("Maximum content size limit (1000) exceeded (")


def test_fault_path_filter_times_and_persistence(oai_fake: FakeOpenAI, oai: httpx.Client) -> None:
    oai_fake.inject(Fault.HTTP_500, times=2, path="/v1/audio/transcriptions")
    oai_fake.inject(Fault.HTTP_502, times=None, path="/v1/audio/speech")
    stt = {"files": {"file": wav_upload()}, "data": {"model": "whisper-1"}}
    assert [oai.post("/audio/transcriptions", **stt).status_code for _ in range(3)] == [500, 500, 200]
    assert [oai.post("/audio/speech", json=SPEECH).status_code for _ in range(3)] == [502, 502, 502]
    oai_fake.reset()
    assert oai.post("/audio/speech", json=SPEECH).status_code == 200
    assert oai_fake.hits == 1


# -- connection faults --------------------------------------------------------------------------------------


def test_reset_before_response(oai_fake: FakeOpenAI, oai: httpx.Client) -> None:
    oai_fake.inject(Fault.RESET)
    with pytest.raises(CONNECTION_ERRORS):
        oai.post("/audio/speech", json=SPEECH)
    assert oai.post("/audio/speech", json=SPEECH).status_code == 200


def test_reset_mid_stream(oai_fake: FakeOpenAI, oai: httpx.Client) -> None:
    oai_fake.inject(Fault.RESET_MID_STREAM)
    with oai.stream("POST", "/audio/speech", json=SPEECH) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "audio/mpeg"
        with pytest.raises(CONNECTION_ERRORS):
            response.read()


def test_reset_mid_stream_on_json(oai_fake: FakeOpenAI, oai: httpx.Client) -> None:
    oai_fake.inject(Fault.RESET_MID_STREAM, path="/v1/audio/transcriptions")
    with oai.stream("POST", "/audio/transcriptions", files={"file": wav_upload()}, data={"model": "whisper-1"}) as r:
        assert r.status_code == 200 and int(r.headers["content-length"]) > 0
        with pytest.raises(CONNECTION_ERRORS):
            r.read()


def test_hang_times_out_then_release_answers(oai_fake: FakeOpenAI, oai: httpx.Client) -> None:
    oai_fake.inject(Fault.HANG, times=2)
    with pytest.raises(httpx.ReadTimeout):
        oai.post("/audio/speech", json=SPEECH, timeout=0.2)
    results: list[httpx.Response] = []
    waiter = threading.Thread(target=lambda: results.append(oai.post("/audio/speech", json=SPEECH)))
    waiter.start()
    oai_fake.wait_for_requests(2)
    with httpx.Client(headers=oai.headers, timeout=TIMEOUT) as other:  # a hang blocks only its own connection
        assert other.post(f"{oai_fake.url}/audio/speech", json=SPEECH).status_code == 200
    oai_fake.release()
    waiter.join(timeout=3)
    assert [r.status_code for r in results] == [200]


def test_stall_mid_stream(oai_fake: FakeOpenAI, oai: httpx.Client) -> None:
    oai_fake.chunk_size = 500
    oai_fake.inject(Fault.STALL_MID_STREAM, times=2)
    audio = synthesize("mp3", 0.5)
    with oai.stream("POST", "/audio/speech", json=SPEECH, timeout=httpx.Timeout(3.0, read=0.3)) as response:
        chunks = response.iter_raw()
        assert next(chunks) == audio[:500]
        with pytest.raises(httpx.ReadTimeout):
            next(chunks)
    received: list[bytes] = []
    waiter = threading.Thread(target=lambda: received.append(oai.post("/audio/speech", json=SPEECH).content))
    waiter.start()
    oai_fake.wait_for_requests(2)
    oai_fake.release()
    waiter.join(timeout=3)
    assert received == [audio]


def test_malformed(oai_fake: FakeOpenAI, oai: httpx.Client, sdk: openai.OpenAI) -> None:
    oai_fake.inject(Fault.MALFORMED, times=2)
    response = oai.post("/audio/speech", json=SPEECH)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()
    with pytest.raises(json.JSONDecodeError):  # what the SDK surfaces for an unparseable 200
        sdk.audio.transcriptions.create(model="whisper-1", file=wav_upload())


def test_chunk_delay_paces_stream(oai_fake: FakeOpenAI, oai: httpx.Client) -> None:
    oai_fake.chunk_size, oai_fake.chunk_delay = 1000, 0.02
    response = oai.post("/audio/speech", json=SPEECH)
    assert response.elapsed.total_seconds() >= 0.02 * (len(synthesize("mp3", 0.5)) // 1000 - 1)


def test_wait_for_requests_times_out(oai_fake: FakeOpenAI) -> None:
    with pytest.raises(TimeoutError):
        oai_fake.wait_for_requests(1, timeout=0.05)


def test_await_requests_from_async_code(oai_fake: FakeOpenAI) -> None:
    oai_fake.inject(Fault.HANG)

    async def scenario() -> int:
        headers = {"authorization": f"Bearer {OPENAI_KEY}"}
        async with httpx.AsyncClient(base_url=oai_fake.url, headers=headers, timeout=TIMEOUT) as client:
            call = asyncio.create_task(client.post("/audio/speech", json=SPEECH))
            (recorded,) = await oai_fake.await_requests(1)
            assert recorded.json == SPEECH and not call.done()
            oai_fake.release()
            return (await call).status_code

    assert asyncio.run(scenario()) == 200


def test_many_concurrent_requests(oai_fake: FakeOpenAI) -> None:
    async def burst() -> list[int]:
        headers = {"authorization": f"Bearer {OPENAI_KEY}"}
        async with httpx.AsyncClient(base_url=oai_fake.url, headers=headers, timeout=TIMEOUT) as c:
            responses = await asyncio.gather(*(c.post("/audio/speech", json=SPEECH) for _ in range(100)))
        return [r.status_code for r in responses]

    assert asyncio.run(burst()) == [200] * 100  # 100 connections at once (httpx's default pool size)
    assert oai_fake.hits == 100


# -- SiliconFlow --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content_type", "rate"),
    [
        ("mp3", "audio/mpeg", 32000),
        ("opus", "audio/opus", 48000),
        ("wav", "audio/wav", 16000),
        ("pcm", "audio/pcm", 8000),
    ],
)
def test_siliconflow_speech_formats(sf: httpx.Client, fmt: str, content_type: str, rate: int) -> None:
    response = sf.post("/audio/speech", json={**SF_SPEECH, "response_format": fmt, "sample_rate": rate})
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["transfer-encoding"] == "chunked"
    assert len(response.headers["x-siliconcloud-trace-id"]) == 32
    if fmt == "pcm":
        assert len(response.content) == rate  # 0.5 s of 16-bit mono
    else:
        assert decoded_seconds(response.content) == pytest.approx(0.5, abs=0.06)


def test_siliconflow_non_streaming_has_length(sf: httpx.Client) -> None:
    response = sf.post("/audio/speech", json={**SF_SPEECH, "stream": False, "speed": 2, "gain": -3})
    assert response.headers["content-length"] == str(len(response.content))
    assert response.content == synthesize("mp3", 0.5, 44100)


@pytest.mark.parametrize(
    "body",
    [
        {**SF_SPEECH, "response_format": "aac"},
        {**SF_SPEECH, "response_format": "flac"},
        {**SF_SPEECH, "voice": "anna"},
        {**SF_SPEECH, "voice": "fishaudio/fish-speech-1.5:anna"},
        {**SF_SPEECH, "voice": f"{SF_MODEL}:zoe"},
        {**SF_SPEECH, "model": "tts-1"},
        {**SF_SPEECH, "input": ""},
        {**SF_SPEECH, "speed": 5},
        {**SF_SPEECH, "gain": 11},
        {**SF_SPEECH, "sample_rate": 24000},
    ],
)
def test_siliconflow_speech_validation(sf: httpx.Client, body: dict) -> None:
    response = sf.post("/audio/speech", json=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    payload = response.json()
    assert set(payload) == {"code", "message", "data"}
    assert payload["code"] == 20012 and payload["data"] is None and payload["message"]


def test_siliconflow_transcription(sf: httpx.Client, sf_fake: FakeSiliconFlow) -> None:
    data = {"model": "FunAudioLLM/SenseVoiceSmall", "response_format": "verbose_json", "language": "en"}
    response = sf.post("/audio/transcriptions", files={"file": wav_upload()}, data=data)
    assert response.json() == {"text": DEFAULT_TRANSCRIPT}
    assert sf_fake.requests[-1].form == data
    unknown = sf.post("/audio/transcriptions", files={"file": wav_upload()}, data={"model": "whisper-1"})
    no_model = {"code": 20012, "message": "Model does not exist. Please check it carefully.", "data": None}
    assert unknown.json() == no_model


def test_siliconflow_auth_and_routing_are_plain_text(sf_fake: FakeSiliconFlow, sf: httpx.Client) -> None:
    wrong = httpx.post(f"{sf_fake.url}/audio/speech", json=SF_SPEECH, headers={"authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.text) == (401, "Invalid token")
    assert wrong.headers["content-type"].startswith("text/plain")
    missing = sf.post("/audio/translations", files={"file": wav_upload()}, data={"model": "x"})
    assert (missing.status_code, missing.text) == (404, "404 page not found")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 429, 500, 502, 503, 504])
def test_siliconflow_status_faults(sf_fake: FakeSiliconFlow, sf: httpx.Client, status: int) -> None:
    sf_fake.inject(f"http_{status}", path="/v1/audio/speech")
    response = sf.post("/audio/speech", json=SF_SPEECH)
    content_type, template = ERROR_BODIES[status]
    assert response.status_code == status
    assert response.headers["content-type"] == content_type
    if template.startswith("{"):
        body = response.json()
        assert body["data"] is None and ("code" in body) == (status != 429)
    else:
        assert response.text == template
    assert ("retry-after" in response.headers) == (status == 429)


def test_siliconflow_stall_then_release(sf_fake: FakeSiliconFlow, sf: httpx.Client) -> None:
    sf_fake.inject(Fault.STALL_MID_STREAM)
    received: list[bytes] = []
    waiter = threading.Thread(target=lambda: received.append(sf.post("/audio/speech", json=SF_SPEECH).content))
    waiter.start()
    sf_fake.wait_for_requests(1)
    sf_fake.release()
    waiter.join(timeout=3)
    assert received == [synthesize("mp3", 0.5, 44100)]


# -- HTTP server ----------------------------------------------------------------------------------------


def test_http_server_chunked_keepalive_and_stop() -> None:
    async def handler(request: Request, respond: Responder) -> None:
        if request.path == "/chunked":
            await respond.send_head(200, {"content-type": "text/plain"})
            await respond.send(b"a")
            await respond.send(request.query.encode())
            await respond.end()
        else:
            await asyncio.Event().wait()  # hangs until the server stops

    before = set(threading.enumerate())
    server = HttpServer(handler).start()
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        first = client.get("/chunked?x=1")
        second = client.get("/chunked?y=2")
        assert (first.text, second.text) == ("ax=1", "ay=2")
        assert first.headers["transfer-encoding"] == "chunked"
        failures: list[Exception] = []

        def hang() -> None:
            try:
                httpx.get(f"{server.url}/hang", timeout=TIMEOUT)
            except httpx.HTTPError as exc:
                failures.append(exc)

        hung = threading.Thread(target=hang)
        hung.start()
        assert client.get("/chunked").text == "a"  # the hung connection blocks nobody
    server.stop()
    hung.join(timeout=3)
    assert len(failures) == 1
    assert set(threading.enumerate()) == before


def test_fake_stop_releases_its_thread() -> None:
    before = set(threading.enumerate())
    fake = FakeSiliconFlow.start()
    fake.inject(Fault.HANG)
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(httpx.post(f"{fake.url}/audio/speech", json=SF_SPEECH, timeout=TIMEOUT))
        except httpx.HTTPError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    fake.wait_for_requests(1)
    fake.stop()
    caller.join(timeout=3)
    assert isinstance(outcome[0], httpx.HTTPError)
    assert set(threading.enumerate()) == before
