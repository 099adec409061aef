"""Properties of rendering for arbitrary transcripts, including hostile timings and any Unicode."""

from __future__ import annotations

import json
import math
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from audio_gateway.audio.render import render_transcript, render_transcript_events
from audio_gateway.audio.transcript import Segment, Transcript, Word, transcript_from_text

STAMP = r"(\d{2,}):([0-5]\d):([0-5]\d)[,.](\d{3})"
SRT_CUE = re.compile(rf"(\d+)\n{STAMP} --> {STAMP}\n((?:[^\n]+\n)+)\n")
VTT_CUE = re.compile(rf"{STAMP} --> {STAMP}\n((?:[^\n]+\n)+)\n")

any_seconds = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-10.0, 500.0)
segments = st.lists(
    st.builds(
        Segment,
        id=st.integers(0, 1000),
        seek=st.integers(0, 10_000),
        start=any_seconds,
        end=any_seconds,
        text=st.text(max_size=40),
    ),
    max_size=12,
)
transcripts = st.builds(
    Transcript,
    text=st.text(max_size=60),
    language=st.none() | st.sampled_from(["en", "zh", "ja", "xx"]),
    duration=st.floats(0.0, 400_000.0),
    segments=segments.map(tuple),
    words=st.none() | st.lists(st.builds(Word, st.text(max_size=8), st.floats(0, 10), st.floats(0, 10))).map(tuple),
    task=st.sampled_from(["transcribe", "translate"]),
)


def _ms(h: str, m: str, s: str, ms: str) -> int:
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def _limit(t: Transcript) -> int:
    """The latest a cue may end: the duration, else the latest finite end, at most the renderer's 2**53 ms
    ceiling (an end of 1e308 s is finite, but not in milliseconds)."""
    if t.duration > 0:
        return round(min(t.duration * 1000, 2**53))
    ends = [s.end for s in t.segments if math.isfinite(s.end) and s.end > 0]
    return round(min(max(ends, default=0.0) * 1000, 2**53))


def _check_cues(cues: list[tuple[int, int]], t: Transcript) -> None:
    limit = _limit(t)
    previous = 0
    for start, end in cues:
        assert 0 <= start <= end <= limit
        assert start >= previous
        previous = start
    assert len(cues) <= len(t.segments)


@settings(max_examples=150)
@given(transcripts)
def test_srt_is_well_formed_and_monotonic(t: Transcript) -> None:
    body = render_transcript(t, "srt", usage_seconds=1, include_words=False).body.decode()
    pos, cues = 0, []
    for match in SRT_CUE.finditer(body):
        assert match.start() == pos, body
        pos = match.end()
        assert int(match.group(1)) == len(cues) + 1
        cues.append((_ms(*match.group(2, 3, 4, 5)), _ms(*match.group(6, 7, 8, 9))))
        assert "," in match.group(0).split("\n")[1]
    assert pos == len(body), body
    _check_cues(cues, t)


@settings(max_examples=150)
@given(transcripts)
def test_vtt_is_well_formed_and_monotonic(t: Transcript) -> None:
    body = render_transcript(t, "vtt", usage_seconds=1, include_words=False).body.decode()
    assert body.startswith("WEBVTT\n\n")
    pos, cues = len("WEBVTT\n\n"), []
    for match in VTT_CUE.finditer(body, pos):
        assert match.start() == pos, body
        pos = match.end()
        assert "-->" not in match.group(9)
        cues.append((_ms(*match.group(1, 2, 3, 4)), _ms(*match.group(5, 6, 7, 8))))
    assert pos == len(body), body
    _check_cues(cues, t)


@given(st.text())
def test_text_ends_with_exactly_one_newline(text: str) -> None:
    t = transcript_from_text(text, duration=1.0, language=None, task="transcribe")
    body = render_transcript(t, "text", usage_seconds=1, include_words=False).body
    assert body.endswith(b"\n") and not body.endswith(b"\n\n")
    assert body.decode() == text.rstrip("\r\n") + "\n"


@given(st.text(), st.floats(0.0, 10_000.0), st.integers(0, 10**6))
def test_json_formats_round_trip_any_text(text: str, duration: float, seconds: int) -> None:
    t = transcript_from_text(text, duration=duration, language=None, task="transcribe")
    for fmt in ("json", "verbose_json"):
        body = json.loads(render_transcript(t, fmt, usage_seconds=seconds, include_words=True).body)
        assert body["text"] == text
        assert body["usage"] == {"type": "duration", "seconds": seconds}
    events = render_transcript_events(t, seconds).decode().split("\n\n")
    done = json.loads(events[-3].removeprefix("data: "))
    assert done["text"] == text
    deltas = [json.loads(e.removeprefix("data: "))["delta"] for e in events[:-3]]
    assert "".join(deltas) == text


@given(st.text(st.characters(exclude_categories=())))  # surrogates included
def test_json_survives_lone_surrogates(text: str) -> None:
    t = Transcript(text, "en", 1.0, (Segment(0, 0, 0.0, 1.0, text),), None, "transcribe")
    for fmt in ("json", "verbose_json", "text", "srt", "vtt"):
        body = render_transcript(t, fmt, usage_seconds=1, include_words=False).body
        decoded = body.decode("utf-8")
        if fmt.endswith("json"):
            json.loads(decoded)


@settings(max_examples=150)
@given(transcripts)
def test_verbose_json_always_parses(t: Transcript) -> None:
    body = json.loads(render_transcript(t, "verbose_json", usage_seconds=3, include_words=True).body)
    assert body["task"] == t.task
    assert isinstance(body["language"], str) and body["language"]
    assert len(body["segments"]) == len(t.segments)
