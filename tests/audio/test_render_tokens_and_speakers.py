"""Rendering what the gpt-4o transcribe models add: token usage, logprobs, diarized segments, stream events."""

from __future__ import annotations

import msgspec
import pytest

from audio_gateway.audio import (
    DurationUsage,
    Logprob,
    Segment,
    SpeakerSegment,
    TokenUsage,
    Transcript,
    render_transcript,
    render_transcript_events,
    sse_delta,
    sse_done,
    sse_error,
    sse_segment,
)

TOKENS = TokenUsage.of(audio_tokens=4, text_tokens=10, output_tokens=31)
SPOKEN = Transcript(
    text="Thanks for calling. Hi.", language="en", duration=12.8,
    segments=(Segment(0, 0, 0.0, 5.2, "Thanks for calling."), Segment(1, 0, 5.2, 12.8, "Hi.")),
    words=None, task="transcribe", logprobs=(Logprob("Thanks", -0.1, (84,)),),
    speakers=(SpeakerSegment("seg_001", 0.0, 5.2, "Thanks for calling.", "agent"),
              SpeakerSegment("seg_002", 5.2, 12.8, "Hi.", "A")),
)


def test_token_usage_in_openais_key_order():
    assert msgspec.json.encode(TOKENS) == (b'{"type":"tokens","input_tokens":14,"input_token_details":{"text_tokens":10,'
                                           b'"audio_tokens":4},"output_tokens":31,"total_tokens":45}')
    assert msgspec.json.encode(DurationUsage(seconds=43)) == b'{"type":"duration","seconds":43}'


def test_json_with_token_usage_and_logprobs_only_when_asked():
    plain = render_transcript(SPOKEN, "json", usage_seconds=None, include_words=False, usage=TOKENS)
    assert plain.body.startswith(b'{"text":"Thanks for calling. Hi.","usage":{"type":"tokens"')
    asked = render_transcript(SPOKEN, "json", usage_seconds=None, include_words=False, usage=TOKENS,
                              include_logprobs=True)
    assert b'"logprobs":[{"token":"Thanks","logprob":-0.1,"bytes":[84]}],"usage"' in asked.body


def test_diarized_json_exactly():
    rendered = render_transcript(SPOKEN, "diarized_json", usage_seconds=13, include_words=False)
    assert rendered.content_type == "application/json"
    assert rendered.body == (
        b'{"task":"transcribe","duration":12.8,"text":"Thanks for calling. Hi.","segments":['
        b'{"type":"transcript.text.segment","id":"seg_001","start":0.0,"end":5.2,"text":"Thanks for calling.",'
        b'"speaker":"agent"},{"type":"transcript.text.segment","id":"seg_002","start":5.2,"end":12.8,"text":"Hi.",'
        b'"speaker":"A"}],"usage":{"type":"duration","seconds":13}}')


def test_diarized_json_needs_speakers():
    plain = msgspec.structs.replace(SPOKEN, speakers=None)
    with pytest.raises(ValueError, match="diarized"):
        render_transcript(plain, "diarized_json", usage_seconds=1, include_words=False)


def test_each_stream_event_exactly():
    assert sse_delta("Hi", segment_id="seg_1") == b'data: {"type":"transcript.text.delta","delta":"Hi","segment_id":"seg_1"}\n\n'
    assert sse_segment(SPOKEN.speakers[1]) == (b'data: {"type":"transcript.text.segment","id":"seg_002","start":5.2,'
                                               b'"end":12.8,"text":"Hi.","speaker":"A"}\n\n')
    assert sse_done("Hi", usage=DurationUsage(seconds=1), cost_usd="0.0001") == (
        b'data: {"type":"transcript.text.done","text":"Hi","usage":{"type":"duration","seconds":1},'
        b'"cost_usd":"0.0001"}\n\ndata: [DONE]\n\n')
    assert sse_error("cut", type_="upstream_error", code="upstream_cut") == (
        b'data: {"type":"error","error":{"message":"cut","type":"upstream_error","param":null,"code":"upstream_cut"}}\n\n')


def test_a_whole_transcript_as_events_with_token_usage():
    body = render_transcript_events(SPOKEN, usage=TOKENS, include_logprobs=True)
    assert body.count(b"transcript.text.delta") == 1  # the segments do not add up to the text with spaces
    assert b'"logprobs":[{"token":"Thanks"' in body and body.endswith(b"data: [DONE]\n\n")
