"""OpenAI's transcription wire format, read and written by the translator (pure, table-driven)."""

from __future__ import annotations

import asyncio
import io

import pytest

from audio_gateway.audio import Logprob, SpeakerSegment
from audio_gateway.audio.transcript import transcript_from_text
from audio_gateway.billing import Usage
from audio_gateway.providers import ServerVad, TranscriptDelta, TranscriptDone, TranscriptionCall, TranscriptSegment
from audio_gateway.providers.openai_transcription import (
    transcript_event,
    transcript_from_openai_diarized,
    transcription_fields,
    transcription_usage_from_openai,
)
from audio_gateway.providers.transcript_stream import TranscriptStream
from audio_gateway.providers.translator import Malformed, StreamError


def call(**overrides) -> TranscriptionCall:
    return TranscriptionCall(**{"upstream_model": "gpt-4o-transcribe", "task": "transcribe", "file": io.BytesIO(b""),
                                "filename": "a.wav", "content_type": "audio/wav", "duration": 2.0, **overrides})


@pytest.mark.parametrize("data, event", [
    (b'{"type":"transcript.text.delta","delta":" wonderful"}', TranscriptDelta(" wonderful")),
    (b'{"type":"transcript.text.delta","delta":"Hi","logprobs":[{"token":"Hi","logprob":-0.5,"bytes":[72,105]}],'
     b'"segment_id":"seg_1"}', TranscriptDelta("Hi", (Logprob("Hi", -0.5, (72, 105)),), "seg_1")),
    (b'{"type":"transcript.text.segment","id":"seg_002","start":5.2,"end":12.8,"text":"Hi.","speaker":"A"}',
     TranscriptSegment(SpeakerSegment("seg_002", 5.2, 12.8, "Hi.", "A"))),
    (b'{"type":"transcript.text.done","text":"I see skies.","usage":{"type":"tokens","input_tokens":14,'
     b'"input_token_details":{"text_tokens":10,"audio_tokens":4},"output_tokens":31,"total_tokens":45}}',
     TranscriptDone("I see skies.", None, Usage.of(audio_input_token=4, input_token=10, output_token=31))),
    (b'{"type":"transcript.text.done","text":""}', TranscriptDone("")),
    (b'{"type":"transcript.text.future_event","x":1}', None),
])
def test_stream_events_as_the_spec_shows_them(data, event):
    assert transcript_event(data) == event


@pytest.mark.parametrize("data", [b'[1, 2]', b'{"type":"transcript.text.delta"}', b'{"type":"transcript.text.done"}',
                                  b'{"type":"transcript.text.segment","id":"s"}'])
def test_broken_events_are_malformed(data):
    with pytest.raises((Malformed, ValueError)):
        transcript_event(data)


def test_an_error_event_is_a_stream_error_with_the_providers_fields():
    with pytest.raises(StreamError) as caught:
        transcript_event(b'{"type":"error","error":{"message":"overloaded","type":"server_error","code":"busy"}}')
    assert (caught.value.error.message, caught.value.error.code, caught.value.error.type) == (
        "overloaded", "busy", "server_error")


@pytest.mark.parametrize("usage, expected", [
    ({"type": "tokens", "input_tokens": 14, "input_token_details": {"text_tokens": 10, "audio_tokens": 4},
      "output_tokens": 101, "total_tokens": 115}, {"audio_input_token": 4, "input_token": 10, "output_token": 101}),
    ({"type": "tokens", "input_tokens": 14, "output_tokens": 3, "total_tokens": 17},
     {"audio_input_token": 14, "output_token": 3}),
    ({"type": "duration", "seconds": 43}, {}),  # the gateway bills the seconds it measured (issue 20)
    (None, {}),
])
def test_transcription_usage(usage, expected):
    assert transcription_usage_from_openai(usage) == Usage.of(expected)


def test_fields_are_encoded_as_the_sdk_encodes_them():
    fields = transcription_fields(call(stream=True, include=("logprobs",), prompt="p", language="en", temperature=0.2,
                                       chunking_strategy=ServerVad(threshold=0.5, silence_duration_ms=300),
                                       known_speaker_names=("a",), known_speaker_references=("data:x;base64,AA==",)))
    assert fields == {"model": "gpt-4o-transcribe", "response_format": "json", "language": "en", "prompt": "p",
                      "temperature": "0.2", "include[]": ["logprobs"], "stream": "true",
                      "chunking_strategy[type]": "server_vad", "chunking_strategy[silence_duration_ms]": "300",
                      "chunking_strategy[threshold]": "0.5", "known_speaker_names[]": ["a"],
                      "known_speaker_references[]": ["data:x;base64,AA=="]}
    assert transcription_fields(call(chunking_strategy="auto"))["chunking_strategy"] == "auto"
    plain = transcription_fields(call())
    assert plain == {"model": "gpt-4o-transcribe", "response_format": "json"}


def test_diarized_json_becomes_speakers_and_timed_segments():
    body = {"task": "transcribe", "duration": 42.7, "text": "Agent: Thanks.\nCustomer: Hi.", "segments": [
        {"type": "transcript.text.segment", "id": "seg_001", "start": 0.0, "end": 5.2, "text": "Thanks.",
         "speaker": "agent"},
        {"type": "transcript.text.segment", "id": "seg_002", "start": 5.2, "end": 12.8, "text": "Hi.", "speaker": "A"}],
        "usage": {"type": "duration", "seconds": 43}}
    t = transcript_from_openai_diarized(body, duration=40.0, language=None, task="transcribe")
    assert t.duration == 42.7 and t.language == "en"
    assert [s.speaker for s in t.speakers] == ["agent", "A"]
    assert [(s.start, s.end, s.text) for s in t.segments] == [(0.0, 5.2, "Thanks."), (5.2, 12.8, "Hi.")]


def test_a_finished_transcript_as_a_stream():
    async def events() -> tuple[list, TranscriptStream]:
        stream = TranscriptStream.of_transcript(transcript_from_text("Hi there.", duration=1.0, language="en",
                                                                     task="transcribe"), Usage.of(second=1))
        return [e async for e in stream], stream

    got, stream = asyncio.run(events())
    assert got == [TranscriptDelta("Hi there."), TranscriptDone("Hi there.", None, Usage.of(second=1))]
    assert stream.completed and stream.ended and not stream.upstream and stream.usage == Usage.of(second=1)


def test_a_provider_stream_that_ends_without_done_is_a_failure():
    from audio_gateway.providers import UpstreamFailure

    closed: list[bool] = []

    async def rest():
        yield TranscriptDelta(" there")

    async def close() -> None:
        closed.append(True)

    async def drain() -> list:
        stream = TranscriptStream(TranscriptDelta("Hi"), rest(), close)
        return [e async for e in stream]

    with pytest.raises(UpstreamFailure, match="ended before transcript.text.done"):
        asyncio.run(drain())
    assert closed == [True]
