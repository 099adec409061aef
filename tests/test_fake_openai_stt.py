"""The fake OpenAI's current STT models, checked over loopback with the official SDK and raw HTTP.

gpt-4o-transcribe / -mini / -diarize as the spec documents them: token usage, `stream=true` event streams
(deltas with logprobs when asked, done with usage, segment events for diarize), `diarized_json`,
chunking_strategy in each encoding, and the refusals (stream on whisper-1, diarized_json elsewhere...).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.fakes import DEFAULT_TRANSCRIPT, FakeOpenAI, Fault, synthesize, transcription_token_usage

from .test_fakes import OPENAI_KEY, TIMEOUT, assert_openai_error, wav_upload


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI.start(api_key=OPENAI_KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(fake: FakeOpenAI) -> Iterator[None]:
    yield
    fake.reset()


@pytest.fixture
def http(fake: FakeOpenAI) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers={"authorization": f"Bearer {OPENAI_KEY}"}, timeout=TIMEOUT) as c:
        yield c


@pytest.fixture
def sdk(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key=OPENAI_KEY, base_url=fake.url, max_retries=0, timeout=3.0) as client:
        yield client


def events_of(response: httpx.Response) -> list[dict]:
    return [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")]


def clip_url(seconds: float) -> str:
    return "data:audio/wav;base64," + base64.b64encode(synthesize("wav", seconds)).decode()


@pytest.mark.parametrize("model", ["gpt-4o-transcribe", "gpt-4o-mini-transcribe"])
def test_sdk_stream_is_word_deltas_then_done_with_token_usage(sdk: openai.OpenAI, model: str) -> None:
    events = list(sdk.audio.transcriptions.create(model=model, file=wav_upload(2.0), stream=True))
    *deltas, done = events
    assert {e.type for e in deltas} == {"transcript.text.delta"} and done.type == "transcript.text.done"
    assert "".join(e.delta for e in deltas) == done.text == DEFAULT_TRANSCRIPT
    assert len(deltas) == len(DEFAULT_TRANSCRIPT.split())
    assert done.usage.model_dump() == transcription_token_usage(DEFAULT_TRANSCRIPT, None, 2.0)
    assert all(e.logprobs is None for e in deltas)


def test_logprobs_ride_each_delta_and_the_done_event(sdk: openai.OpenAI, fake: FakeOpenAI) -> None:
    events = list(sdk.audio.transcriptions.create(model="gpt-4o-transcribe", file=wav_upload(), stream=True,
                                                  include=["logprobs"]))
    assert fake.requests[-1].form["include[]"] == ["logprobs"]
    assert [lp.token for e in events[:-1] for lp in e.logprobs] == DEFAULT_TRANSCRIPT.split()
    assert [lp.token for lp in events[-1].logprobs] == DEFAULT_TRANSCRIPT.split()
    body = sdk.audio.transcriptions.create(model="gpt-4o-transcribe", file=wav_upload(), include=["logprobs"])
    assert body.logprobs[0].token == "Hello" and body.logprobs[0].bytes == list(b"Hello")


def test_diarize_streams_segments_with_known_speakers(sdk: openai.OpenAI) -> None:
    events = list(sdk.audio.transcriptions.create(
        model="gpt-4o-transcribe-diarize", file=wav_upload(4.0), stream=True, response_format="diarized_json",
        known_speaker_names=["agent", "customer"], known_speaker_references=[clip_url(2.5), clip_url(3.0)]))
    segments = [e for e in events if e.type == "transcript.text.segment"]
    assert [(s.id, s.speaker, s.text) for s in segments] == [
        ("seg_001", "agent", "Hello from the fake transcriber."), ("seg_002", "customer", "It has two sentences.")]
    assert segments[-1].end == pytest.approx(4.0)
    deltas = [e for e in events if e.type == "transcript.text.delta"]
    assert {d.segment_id for d in deltas} == {"seg_001", "seg_002"}
    assert "".join(d.delta for d in deltas) == events[-1].text == DEFAULT_TRANSCRIPT


def test_diarized_json_body(sdk: openai.OpenAI) -> None:
    body = sdk.audio.transcriptions.create(model="gpt-4o-transcribe-diarize", file=wav_upload(3.0),
                                           response_format="diarized_json")
    assert (body.task, body.text, body.duration) == ("transcribe", DEFAULT_TRANSCRIPT, pytest.approx(3.0))
    assert [s.speaker for s in body.segments] == ["A", "B"] and body.segments[0].type == "transcript.text.segment"
    assert body.usage.type == "tokens"


@pytest.mark.parametrize("encoding", ["auto", "sdk", "json"])
def test_chunking_strategy_in_each_encoding(sdk: openai.OpenAI, http: httpx.Client, fake: FakeOpenAI,
                                            encoding: str) -> None:
    long_audio = wav_upload(31.0)
    if encoding == "sdk":
        sdk.audio.transcriptions.create(model="gpt-4o-transcribe-diarize", file=long_audio, chunking_strategy={
            "type": "server_vad", "threshold": 0.4, "prefix_padding_ms": 200, "silence_duration_ms": 500})
        assert fake.requests[-1].form["chunking_strategy[threshold]"] == "0.4"
        return
    value = "auto" if encoding == "auto" else json.dumps({"type": "server_vad", "silence_duration_ms": 300})
    response = http.post("/audio/transcriptions", files={"file": long_audio},
                         data={"model": "gpt-4o-transcribe-diarize", "chunking_strategy": value})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("data, param, code", [
    ({"model": "whisper-1", "stream": "true"}, "stream", "unsupported_value"),
    ({"model": "gpt-4o-transcribe", "response_format": "diarized_json"}, "response_format", "unsupported_value"),
    ({"model": "gpt-4o-transcribe", "response_format": "verbose_json"}, "response_format", "unsupported_value"),
    ({"model": "whisper-1", "include[]": "logprobs"}, "include", "unsupported_parameter"),
    ({"model": "gpt-4o-transcribe-diarize", "include[]": "logprobs"}, "include", "unsupported_parameter"),
    ({"model": "gpt-4o-transcribe", "include[]": "logprobs", "response_format": "text"}, "include", "unsupported_value"),
    ({"model": "gpt-4o-transcribe", "include[]": "tokens"}, "include", "invalid_value"),
    ({"model": "gpt-4o-transcribe-diarize", "prompt": "hello"}, "prompt", "unsupported_parameter"),
    ({"model": "gpt-4o-transcribe", "chunking_strategy": "manual"}, "chunking_strategy", "invalid_value"),
    ({"model": "gpt-4o-transcribe", "chunking_strategy[type]": "client_vad"}, "chunking_strategy", "invalid_value"),
    ({"model": "gpt-4o-transcribe", "chunking_strategy[type]": "server_vad", "chunking_strategy[speed]": "1"},
     "chunking_strategy", "invalid_value"),
    ({"model": "gpt-4o-transcribe", "chunking_strategy[type]": "server_vad", "chunking_strategy[threshold]": "2"},
     "chunking_strategy", "invalid_value"),
    ({"model": "whisper-1", "chunking_strategy": "auto"}, "chunking_strategy", "unsupported_parameter"),
    ({"model": "gpt-4o-transcribe", "known_speaker_names[]": "agent", "known_speaker_references[]": "x"},
     "known_speaker_names", "unsupported_parameter"),
    ({"model": "gpt-4o-transcribe-diarize", "known_speaker_names[]": ["a", "b"], "known_speaker_references[]": "x"},
     "known_speaker_references", "invalid_value"),
    ({"model": "gpt-4o-transcribe-diarize", "known_speaker_names[]": "a", "known_speaker_references[]": "not-a-url"},
     "known_speaker_references", "invalid_value"),
])
def test_refusals_name_the_param(http: httpx.Client, data: dict, param: str, code: str) -> None:
    response = http.post("/audio/transcriptions", files={"file": wav_upload()}, data=data)
    error = assert_openai_error(response, 400, code)
    assert error["param"] == param and error["type"] == "invalid_request_error"


def test_diarize_needs_a_chunking_strategy_past_30_seconds(http: httpx.Client) -> None:
    response = http.post("/audio/transcriptions", files={"file": wav_upload(31.0)},
                         data={"model": "gpt-4o-transcribe-diarize"})
    assert assert_openai_error(response, 400, "missing_required_parameter")["param"] == "chunking_strategy"
    short = http.post("/audio/transcriptions", files={"file": wav_upload(29.0)}, data={"model": "gpt-4o-transcribe-diarize"})
    assert short.status_code == 200


def test_a_reference_clip_must_be_2_to_10_seconds(http: httpx.Client) -> None:
    response = http.post("/audio/transcriptions", files={"file": wav_upload()}, data={
        "model": "gpt-4o-transcribe-diarize", "known_speaker_names[]": "a", "known_speaker_references[]": clip_url(1.0)})
    assert assert_openai_error(response, 400, "invalid_value")["param"] == "known_speaker_references"


def test_a_cut_mid_stream_delivers_the_first_event_then_resets(http: httpx.Client, fake: FakeOpenAI) -> None:
    fake.inject(Fault.RESET_MID_STREAM)
    received = b""
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):  # noqa: PT012 - the cut is mid-read
        with http.stream("POST", "/audio/transcriptions", files={"file": wav_upload()},
                         data={"model": "gpt-4o-transcribe", "stream": "true"}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for chunk in response.iter_raw():
                received += chunk
    assert received == b'data: {"type":"transcript.text.delta","delta":"Hello"}\n\n'


def test_no_usage_when_the_fake_reports_none(http: httpx.Client, fake: FakeOpenAI) -> None:
    fake.report_usage = False
    done = events_of(http.post("/audio/transcriptions", files={"file": wav_upload()},
                               data={"model": "gpt-4o-transcribe", "stream": "true"}))[-1]
    assert done == {"type": "transcript.text.done", "text": DEFAULT_TRANSCRIPT}
