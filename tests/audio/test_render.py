"""render_transcript / render_transcript_events: exact bytes per format, from both providers' transcripts."""

from __future__ import annotations

import json

import msgspec
import pytest

from audio_gateway.audio.render import (
    JSON_CONTENT_TYPE,
    RESPONSE_FORMATS,
    TEXT_CONTENT_TYPE,
    render_transcript,
    render_transcript_events,
)
from audio_gateway.audio.transcript import (
    Segment,
    Transcript,
    Word,
    transcript_from_text,
)
from audio_gateway.providers.openai import transcript_from_openai_json, transcript_from_openai_verbose


def _segment(i: int, start: float, end: float, text: str) -> dict:
    return {"id": i, "seek": 0, "start": start, "end": end, "text": text, "tokens": [50364 + i, 440],
            "temperature": 0.0, "avg_logprob": -0.25, "compression_ratio": 1.2, "no_speech_prob": 0.01}


WHISPER_BODY = {
    "task": "transcribe",
    "language": "english",
    "duration": 8.470000267028809,
    "text": "The beach was a popular spot on a hot summer day. People were swimming in the ocean.",
    "words": [
        {"word": "The", "start": 0.0, "end": 0.24},
        {"word": "beach", "start": 0.24, "end": 0.6},
    ],
    "segments": [
        _segment(0, 0.0, 3.319999933242798, " The beach was a popular spot on a hot summer day."),
        _segment(1, 3.319999933242798, 8.470000267028809, " People were swimming in the ocean."),
    ],
    "usage": {"type": "duration", "seconds": 9},
}

TRANSCRIPTS = {
    "whisper": transcript_from_openai_verbose(WHISPER_BODY, "transcribe"),
    "whisper-translate": transcript_from_openai_verbose(
        {**WHISPER_BODY, "task": "translate", "language": "english"}, "translate"
    ),
    "sensevoice": transcript_from_text("你好，世界。今天天气很好。", duration=2.5004988662131518,
                                       language=None, task="transcribe"),
    "sensevoice-json": transcript_from_openai_json({"text": "Hello there, \"friend\" — ça va?"}, 61.0,
                                                   "en", "transcribe"),
    "empty": transcript_from_text("", duration=1.0, language=None, task="transcribe"),
}


@pytest.mark.parametrize("fmt", RESPONSE_FORMATS)
@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_render_snapshot(name: str, fmt: str, snapshot) -> None:  # noqa: ANN001 - syrupy fixture
    rendered = render_transcript(TRANSCRIPTS[name], fmt, usage_seconds=9, include_words=True)
    assert {"content_type": rendered.content_type, "body": rendered.body.decode("utf-8")} == snapshot


@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_events_snapshot(name: str, snapshot) -> None:  # noqa: ANN001 - syrupy fixture
    assert render_transcript_events(TRANSCRIPTS[name], 9).decode("utf-8") == snapshot


ONE = Transcript(
    text="Hello world.",
    language="en",
    duration=2.0,
    segments=(Segment(0, 0, 0.0, 2.0, " Hello world."),),
    words=(Word("Hello", 0.0, 0.8), Word("world.", 0.8, 2.0)),
    task="transcribe",
)


def test_exact_bytes_like_openai() -> None:
    def body(fmt: str) -> bytes:
        return render_transcript(ONE, fmt, usage_seconds=2, include_words=False).body

    assert body("json") == b'{"text":"Hello world.","usage":{"type":"duration","seconds":2}}'
    assert body("text") == b"Hello world.\n"
    assert body("srt") == b"1\n00:00:00,000 --> 00:00:02,000\nHello world.\n\n"
    assert body("vtt") == b"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nHello world.\n\n"
    assert body("verbose_json") == (
        b'{"task":"transcribe","language":"english","duration":2.0,"text":"Hello world.","segments":[{"id":0,'
        b'"seek":0,"start":0.0,"end":2.0,"text":" Hello world.","tokens":[],"temperature":0.0,"avg_logprob":'
        b'0.0,"compression_ratio":1.0,"no_speech_prob":0.0}],"usage":{"type":"duration","seconds":2}}'
    )


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("json", JSON_CONTENT_TYPE), ("verbose_json", JSON_CONTENT_TYPE), ("text", TEXT_CONTENT_TYPE),
     ("srt", TEXT_CONTENT_TYPE), ("vtt", TEXT_CONTENT_TYPE)],
)
def test_content_types(fmt: str, content_type: str) -> None:
    assert render_transcript(ONE, fmt, usage_seconds=2, include_words=False).content_type == content_type
    assert TEXT_CONTENT_TYPE == "text/plain; charset=utf-8"


def test_verbose_json_keys_follow_openai_order() -> None:
    body = json.loads(render_transcript(ONE, "verbose_json", usage_seconds=2, include_words=True).body)
    assert list(body) == ["task", "language", "duration", "text", "segments", "words", "usage"]
    assert list(body["segments"][0]) == ["id", "seek", "start", "end", "text", "tokens", "temperature",
                                         "avg_logprob", "compression_ratio", "no_speech_prob"]
    assert body["words"] == [{"word": "Hello", "start": 0.0, "end": 0.8},
                             {"word": "world.", "start": 0.8, "end": 2.0}]


def test_verbose_json_granularities_and_usage() -> None:
    def keys(**kwargs) -> list[str]:  # noqa: ANN003
        return list(json.loads(render_transcript(ONE, "verbose_json", **kwargs).body))

    assert keys(usage_seconds=2, include_words=False) == ["task", "language", "duration", "text", "segments",
                                                          "usage"]
    assert keys(usage_seconds=2, include_words=True, include_segments=False) == [
        "task", "language", "duration", "text", "words", "usage"]
    assert keys(usage_seconds=None, include_words=False) == ["task", "language", "duration", "text", "segments"]
    assert json.loads(render_transcript(ONE, "json", usage_seconds=None, include_words=False).body) == {
        "text": "Hello world."}


def test_verbose_json_words_absent_upstream_render_empty() -> None:
    t = TRANSCRIPTS["sensevoice"]
    assert json.loads(render_transcript(t, "verbose_json", usage_seconds=3, include_words=True).body)["words"] == []


@pytest.mark.parametrize(
    ("language", "task", "shown"),
    [("en", "transcribe", "english"), ("zh", "transcribe", "chinese"), ("xx", "transcribe", "xx"),
     (None, "transcribe", "english"), ("de", "translate", "english")],
)
def test_verbose_json_language_is_a_name(language: str | None, task: str, shown: str) -> None:
    t = msgspec.structs.replace(ONE, language=language, task=task)
    body = json.loads(render_transcript(t, "verbose_json", usage_seconds=2, include_words=False).body)
    assert (body["task"], body["language"]) == (task, shown)


def _subtitles(segments: list[tuple[float, float, str]], duration: float, fmt: str) -> str:
    t = Transcript("x", "en", duration, tuple(Segment(i, 0, s, e, txt) for i, (s, e, txt) in enumerate(segments)),
                   None, "transcribe")
    return render_transcript(t, fmt, usage_seconds=1, include_words=False).body.decode()


def test_timestamps_hours_grow_past_99() -> None:
    srt = _subtitles([(360_000.5, 360_123.4567, "late")], 400_000.0, "srt")
    assert srt == "1\n100:00:00,500 --> 100:02:03,457\nlate\n\n"


def test_timestamps_never_roll_over_to_60_seconds() -> None:
    assert _subtitles([(59.9996, 119.9999, "a")], 200.0, "vtt") == "WEBVTT\n\n00:01:00.000 --> 00:02:00.000\na\n\n"


def test_cues_are_clamped_and_monotonic() -> None:
    srt = _subtitles([(-1.0, 0.5, " a "), (3.0, 99.0, "b"), (1.0, 0.5, "c"), (2.0, 2.5, "   "), (4.0, 4.2, "d")],
                     3.5, "srt")
    assert srt == (
        "1\n00:00:00,000 --> 00:00:00,500\na\n\n"
        "2\n00:00:03,000 --> 00:00:03,500\nb\n\n"
        "3\n00:00:03,000 --> 00:00:03,000\nc\n\n"  # went backwards: pinned to the previous start
        "4\n00:00:03,500 --> 00:00:03,500\nd\n\n"  # past the end of the audio: clamped; blank cue dropped
    )


def test_cue_text_cannot_break_the_file() -> None:
    vtt = _subtitles([(0.0, 1.0, "line one\n\n\nline two\r\n"), (1.0, 2.0, "a ---> b")], 2.0, "vtt")
    assert vtt == "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nline one\nline two\n\n00:00:01.000 --> 00:00:02.000\na -> b\n\n"


def test_text_format_ends_with_one_newline() -> None:
    t = msgspec.structs.replace(ONE, text="trailing\n\n")
    assert render_transcript(t, "text", usage_seconds=1, include_words=False).body == b"trailing\n"


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="diarized_json"):
        render_transcript(ONE, "diarized_json", usage_seconds=1, include_words=False)


def test_lone_surrogates_in_a_hand_built_transcript() -> None:
    t = msgspec.structs.replace(ONE, text="a\udc80b", segments=(Segment(0, 0, 0.0, 1.0, "a\udc80b"),))
    for fmt in RESPONSE_FORMATS:
        body = render_transcript(t, fmt, usage_seconds=1, include_words=False).body
        assert "a\ufffdb" in body.decode("utf-8")
    assert b"a\xef\xbf\xbdb" in render_transcript_events(t)


def _events(raw: bytes) -> list:
    assert raw.endswith(b"\n\n")
    chunks = raw.decode().split("\n\n")[:-1]
    assert all(c.startswith("data: ") for c in chunks)
    return [c[len("data: "):] for c in chunks]


def test_events_add_up_to_the_text() -> None:
    t = TRANSCRIPTS["whisper"]
    *events, sentinel = _events(render_transcript_events(t, 9))
    assert sentinel == "[DONE]"
    parsed = [json.loads(e) for e in events]
    assert [e["type"] for e in parsed] == ["transcript.text.delta"] * 2 + ["transcript.text.done"]
    assert "".join(e["delta"] for e in parsed[:-1]) == parsed[-1]["text"] == t.text
    assert parsed[-1]["usage"] == {"type": "duration", "seconds": 9}


def test_events_defaults_follow_the_schema() -> None:
    events = _events(render_transcript_events(ONE, done_sentinel=False))
    assert [json.loads(e) for e in events] == [
        {"type": "transcript.text.delta", "delta": "Hello world."},
        {"type": "transcript.text.done", "text": "Hello world."},  # no token usage to report: omitted
    ]


def test_events_when_segments_do_not_match_the_text() -> None:
    t = msgspec.structs.replace(ONE, text="Something else entirely.")
    events = [json.loads(e) for e in _events(render_transcript_events(t, done_sentinel=False))]
    assert events[0] == {"type": "transcript.text.delta", "delta": "Something else entirely."}


def test_events_for_empty_text() -> None:
    assert render_transcript_events(TRANSCRIPTS["empty"], 1) == (
        b'data: {"type":"transcript.text.done","text":"","usage":{"type":"duration","seconds":1}}\n\n'
        b"data: [DONE]\n\n"
    )
