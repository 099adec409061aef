"""Building one Transcript from either provider's answer."""

from __future__ import annotations

import math

import pytest

from audio_gateway.audio.transcript import (
    Segment,
    Transcript,
    Word,
    transcript_from_text,
)
from audio_gateway.providers.openai import transcript_from_openai_json, transcript_from_openai_verbose

VERBOSE = {
    "task": "transcribe",
    "language": "english",
    "duration": 8.470000267028809,
    "text": "The beach was a popular spot on a hot summer day.",
    "words": [{"word": "The", "start": 0.0, "end": 0.24}, {"word": "beach", "start": 0.24, "end": 0.6}],
    "segments": [
        {
            "id": 0,
            "seek": 0,
            "start": 0.0,
            "end": 3.319999933242798,
            "text": " The beach was a popular spot on a hot summer day.",
            "tokens": [50364, 440, 7534, 50530],
            "temperature": 0.0,
            "avg_logprob": -0.2860786020755768,
            "compression_ratio": 1.2363636493682861,
            "no_speech_prob": 0.00985979475080967,
        }
    ],
    "usage": {"type": "duration", "seconds": 9},
}


def test_from_openai_verbose() -> None:
    t = transcript_from_openai_verbose(VERBOSE, "transcribe")
    assert t.language == "en"
    assert t.duration == 8.470000267028809  # upstream's figure is passed through untouched
    assert t.text == VERBOSE["text"]
    assert t.task == "transcribe"
    assert t.words == (Word("The", 0.0, 0.24), Word("beach", 0.24, 0.6))
    (segment,) = t.segments
    assert segment.tokens == (50364, 440, 7534, 50530)
    assert segment.avg_logprob == -0.2860786020755768
    assert segment.text == " The beach was a popular spot on a hot summer day."


def test_from_openai_verbose_variants() -> None:
    body = {"text": "Hola", "language": "Spanish", "duration": 1.0}  # no segments, no words requested
    t = transcript_from_openai_verbose(body, "transcribe")
    assert (t.language, t.segments, t.words) == ("es", (), None)
    # A language Whisper's table lacks is kept, so verbose_json can echo it.
    assert transcript_from_openai_verbose({**body, "language": "Klingon"}, "transcribe").language == "klingon"
    # Translations are English whatever the source language was.
    assert transcript_from_openai_verbose(body, "translate").language == "en"
    # No duration upstream: the gateway's probe, else the last timing.
    no_duration = {"text": "x", "language": "english", "segments": [VERBOSE["segments"][0]]}
    assert transcript_from_openai_verbose(no_duration, "transcribe", duration=3.5).duration == 3.5
    assert transcript_from_openai_verbose(no_duration, "transcribe").duration == 3.319999933242798


def test_from_openai_verbose_segment_defaults() -> None:
    body = {"text": "a", "language": "english", "duration": 1, "segments": [{"id": 0, "seek": 0, "start": 0,
                                                                               "end": 1, "text": "a"}]}
    (segment,) = transcript_from_openai_verbose(body, "transcribe").segments
    assert segment == Segment(0, 0, 0.0, 1.0, "a", (), 0.0, 0.0, 1.0, 0.0)


@pytest.mark.parametrize("body", [{}, {"text": 5}, {"text": "a", "segments": "nope"}, {"text": "a", "duration": "x"}])
def test_from_openai_verbose_rejects_other_shapes(body: dict) -> None:
    with pytest.raises(ValueError):
        transcript_from_openai_verbose(body, "transcribe")


def test_from_openai_verbose_cleans_lone_surrogates() -> None:
    t = transcript_from_openai_verbose({"text": "a\ud800b", "language": "english", "duration": 1}, "transcribe")
    assert t.text == "a\ufffdb"
    t.text.encode("utf-8")


def test_from_text() -> None:
    t = transcript_from_text("你好，世界。", duration=2.5004988662131518, language=None, task="transcribe")
    assert t == Transcript(
        text="你好，世界。",
        language="zh",  # guessed from the script: SenseVoice does not say
        duration=2.5,  # rounded to the millisecond
        segments=(Segment(0, 0, 0.0, 2.5, "你好，世界。", (), 0.0, 0.0, 1.0, 0.0),),
        words=None,
        task="transcribe",
    )


@pytest.mark.parametrize(
    ("language", "task", "expected"),
    [
        ("en", "transcribe", "en"),
        ("English", "transcribe", "en"),
        ("ja", "transcribe", "ja"),  # the request wins over the script guess
        ("xx", "transcribe", "xx"),  # unknown but given: kept
        ("", "transcribe", "zh"),
        (None, "transcribe", "zh"),
        (None, "translate", "en"),
        ("ja", "translate", "en"),
    ],
)
def test_from_text_language(language: str | None, task: str, expected: str) -> None:
    assert transcript_from_text("你好", duration=1.0, language=language, task=task).language == expected


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_from_text_empty_has_no_segments(text: str) -> None:
    t = transcript_from_text(text, duration=1.0, language=None, task="transcribe")
    assert t.segments == ()
    assert t.language is None


@pytest.mark.parametrize("duration", [-1.0, math.nan, math.inf])
def test_from_text_rejects_bad_duration(duration: float) -> None:
    with pytest.raises(ValueError):
        transcript_from_text("a", duration=duration, language=None, task="transcribe")


def test_from_openai_json() -> None:
    t = transcript_from_openai_json({"text": "Hello there."}, 1.25, "en", "transcribe")
    assert t == transcript_from_text("Hello there.", duration=1.25, language="en", task="transcribe")
    with pytest.raises(ValueError):
        transcript_from_openai_json({"message": "nope"}, 1.0, None, "transcribe")


def test_structs_are_frozen() -> None:
    t = transcript_from_text("a", duration=1.0, language="en", task="transcribe")
    with pytest.raises(AttributeError):
        t.text = "b"  # type: ignore[misc]
