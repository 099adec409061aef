"""Transcript rendering from untrusted provider bodies: any Unicode, any timing, five formats that agree.

tests/audio/test_render_properties.py covers hand-built transcripts with timings up to a few hundred
seconds; here the input goes through the same constructor the OpenAI adapter uses, with times from
subnormal to 1e308 seconds, and the properties are about what a client can rely on: cues parse, count
1..n, never run backwards, lose no segment's text, and json/text/stream say what verbose_json says.
"""

from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from audio_gateway.audio import render_transcript, render_transcript_events
from audio_gateway.audio.transcript import Transcript
from audio_gateway.providers.openai import transcript_from_openai_verbose

STAMP = r"(\d{2,}):([0-5]\d):([0-5]\d)[,.](\d{3})"
SRT_CUE = re.compile(rf"(\d+)\n{STAMP} --> {STAMP}\n((?:[^\n]+\n)+)\n")
VTT_CUE = re.compile(rf"{STAMP} --> {STAMP}\n((?:[^\n]+\n)+)\n")
HUNDRED_HOURS = 100 * 3600.0

# Non-negative seconds a provider might send: ordinary, past 100 hours, subnormal, -0.0, near overflow.
odd_seconds = st.sampled_from([0.0, -0.0, 5e-324, 1e-9, 0.0005, 0.0015, 59.9995, 3599.9995, HUNDRED_HOURS,
                               HUNDRED_HOURS + 0.0005, 1e12, 1e300, 1.7976931348623157e308])
seconds = st.floats(0, 600) | st.floats(HUNDRED_HOURS, 1e9) | st.floats(0, allow_infinity=False) | odd_seconds
segment_text = st.text(st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    ["  padded  ", "two\n\nparagraphs", "a --> b", "--->", "\r\n\u2028\x85", "😀‍👩", "\ufeff", "1\n00:00:00,000"])


@st.composite
def provider_bodies(draw) -> dict:
    """A whisper-style verbose_json body: segments with arbitrary non-negative times, in any order."""
    texts = draw(st.lists(segment_text, max_size=10))
    segments = [{"id": i, "seek": 0, "start": draw(seconds), "end": draw(seconds), "text": text}
                for i, text in enumerate(texts)]
    body = {"text": draw(st.text(st.characters(codec="utf-8"), max_size=60)), "language": "english",
            "segments": segments}
    if draw(st.booleans()):
        body["duration"] = draw(seconds)
    return body


def _ms(h: str, m: str, s: str, ms: str) -> int:
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def _parse(body: str, fmt: str) -> list[tuple[int, int, str]]:
    """(start_ms, end_ms, text) for every cue; fails unless the cues tile the whole body."""
    pattern, pos = (SRT_CUE, 0) if fmt == "srt" else (VTT_CUE, len("WEBVTT\n\n"))
    if fmt == "vtt":
        assert body.startswith("WEBVTT\n\n")
    cues = []
    for match in pattern.finditer(body, pos):
        assert match.start() == pos, body
        pos = match.end()
        groups = match.groups()
        if fmt == "srt":
            assert int(groups[0]) == len(cues) + 1, "cues are numbered 1..n"
            groups = groups[1:]
        cues.append((_ms(*groups[0:4]), _ms(*groups[4:8]), groups[8].removesuffix("\n")))
    assert pos == len(body), body
    return cues


def _visible(text: str) -> str:
    """Everything but whitespace: what a cue must keep of its segment's text."""
    return "".join(text.split())


def _render(t: Transcript, fmt: str) -> bytes:
    return render_transcript(t, fmt, usage_seconds=7, include_words=True).body


@settings(max_examples=200)
@given(provider_bodies(), st.sampled_from(["srt", "vtt"]))
@example({"text": "hi", "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": 1e308, "text": "hi"}],
          "duration": 1e308}, "srt")
def test_subtitles_are_well_formed_monotonic_and_lose_no_text(body: dict, fmt: str) -> None:
    t = transcript_from_openai_verbose(body, "transcribe")
    cues = _parse(_render(t, fmt).decode("utf-8"), fmt)
    kept = [s for s in t.segments if _visible(s.text)]
    assert len(cues) == len(kept)
    previous = 0
    for (start, end, text), segment in zip(cues, kept):
        assert previous <= start <= end
        previous = start
        if fmt == "srt":
            assert _visible(text) == _visible(segment.text)
        else:  # VTT forbids "-->" in cue text: only dashes may go
            assert "-->" not in text
            assert _visible(text).replace("-", "") == _visible(segment.text).replace("-", "")


@settings(max_examples=100)
@given(st.lists(st.tuples(st.floats(0, 1000), st.floats(0, 1000)), min_size=1, max_size=8),
       st.floats(HUNDRED_HOURS, 10 * HUNDRED_HOURS))
def test_ordered_in_range_timings_are_rendered_exactly_past_one_hundred_hours(gaps, offset: float) -> None:
    """Sane input is not 'fixed': each cue shows its segment's own times, to the millisecond."""
    segments, clock = [], offset
    for i, (gap, length) in enumerate(gaps):
        start, end = clock + gap, clock + gap + length
        segments.append({"id": i, "seek": 0, "start": start, "end": end, "text": f"cue {i}"})
        clock = end
    t = transcript_from_openai_verbose({"text": "x", "segments": segments, "duration": clock + 1}, "transcribe")
    for fmt in ("srt", "vtt"):
        cues = _parse(_render(t, fmt).decode(), fmt)
        for (start, end, _), segment in zip(cues, segments, strict=True):
            assert start == round(segment["start"] * 1000) and end == round(segment["end"] * 1000)
            assert start >= HUNDRED_HOURS * 1000


@settings(max_examples=150)
@given(provider_bodies(), st.sampled_from(["transcribe", "translate"]))
def test_every_format_tells_the_same_story_as_verbose_json(body: dict, task: str) -> None:
    t = transcript_from_openai_verbose(body, task)
    verbose = json.loads(_render(t, "verbose_json"))
    assert verbose["task"] == task
    assert verbose["duration"] == t.duration and math.isfinite(verbose["duration"]) and verbose["duration"] >= 0
    assert [s["text"] for s in verbose["segments"]] == [s.text for s in t.segments]
    assert [(s["start"], s["end"]) for s in verbose["segments"]] == [(s.start, s.end) for s in t.segments]
    assert json.loads(_render(t, "json"))["text"] == verbose["text"]
    assert _render(t, "text").decode() == verbose["text"].rstrip("\r\n") + "\n"
    events = [e.removeprefix("data: ") for e in render_transcript_events(t, 7).decode().split("\n\n") if e]
    assert events[-1] == "[DONE]"
    done = json.loads(events[-2])
    assert done["text"] == verbose["text"]
    assert "".join(json.loads(e)["delta"] for e in events[:-2]) == verbose["text"]


@pytest.mark.parametrize("duration", [1e308, 1.7976931348623157e308, 1e16])
def test_an_absurd_provider_duration_renders_instead_of_overflowing(duration: float) -> None:
    """Regression: a duration * 1000 that overflowed to inf raised OverflowError (a 500) for srt/vtt."""
    t = transcript_from_openai_verbose(
        {"text": "hi", "duration": duration, "segments": [{"id": 0, "seek": 0, "start": 1.0, "end": duration, "text": "hi"}]},
        "transcribe")
    for fmt in ("srt", "vtt"):
        [(start, end, text)] = _parse(_render(t, fmt).decode(), fmt)
        assert (start, text) == (1000, "hi") and end >= start
