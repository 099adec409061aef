"""One transcript value, whichever provider produced it.

Each adapter reads its provider's answer (whisper-1's ``verbose_json`` with segments, words and a language
*name*; SenseVoice's bare ``{"text": ...}``; a local engine's segments) into a ``Transcript`` -- language as
an ISO code, duration in seconds -- and ``render`` turns that into whatever ``response_format`` the client
asked for, so clients see the same shapes from every provider. The helpers here are what every adapter
needs to build one: ``transcript_from_text`` for providers that give text only, ``clean_text``,
``transcript_language`` and ``checked_seconds``.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from .languages import guess_language, language_code

__all__ = [
    "Logprob",
    "Segment",
    "SpeakerSegment",
    "Task",
    "Transcript",
    "Word",
    "checked_seconds",
    "clean_segment",
    "clean_text",
    "clean_word",
    "last_end",
    "transcript_from_text",
    "transcript_language",
]

Task = Literal["transcribe", "translate"]


class Word(msgspec.Struct, frozen=True):
    """A word with its timing (fields in OpenAI's ``TranscriptionWord`` order)."""

    word: str
    start: float
    end: float


class Segment(msgspec.Struct, frozen=True):
    """A segment (fields in OpenAI's ``TranscriptionSegment`` order, so it encodes as-is)."""

    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: tuple[int, ...] = ()
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 1.0
    no_speech_prob: float = 0.0


class Logprob(msgspec.Struct, frozen=True):
    """One token's log probability (OpenAI's ``include[]=logprobs`` item: token, logprob, bytes)."""

    token: str
    logprob: float
    bytes: tuple[int, ...] = ()


class SpeakerSegment(msgspec.Struct, frozen=True):
    """A diarized segment: who spoke when (OpenAI's ``TranscriptionDiarizedSegment`` minus its ``type``)."""

    id: str
    start: float
    end: float
    text: str
    speaker: str


class Transcript(msgspec.Struct, frozen=True):
    """A provider's result, normalised. ``language`` is an ISO-639-1 code (or None when unknown).

    ``logprobs`` are the provider's token log probabilities when asked for (``include[]=logprobs``);
    ``speakers`` the diarized segments of a diarizing model (None from every other model)."""

    text: str
    language: str | None
    duration: float
    segments: tuple[Segment, ...]
    words: tuple[Word, ...] | None
    task: Task
    logprobs: tuple[Logprob, ...] | None = None
    speakers: tuple[SpeakerSegment, ...] | None = None


def transcript_from_text(text: str, *, duration: float, language: str | None, task: Task) -> Transcript:
    """Build from a bare transcript (SenseVoice, or any provider that gives text only).

    ``duration`` is the gateway's probe of the upload. The whole text becomes one segment spanning
    ``[0, duration]`` with neutral scores; empty text gives no segments. ``language`` is the request's
    (code or name); when absent, a translation is English and a transcription's language is guessed from
    the text's script (``guess_language``), since the provider does not say.
    """
    text = clean_text(text)
    seconds = checked_seconds(duration)
    segments = (Segment(id=0, seek=0, start=0.0, end=seconds, text=text),) if text.strip() else ()
    return Transcript(
        text=text,
        language=transcript_language(language, text, task),
        duration=seconds,
        segments=segments,
        words=None,
        task=task,
    )


def transcript_language(given: str | None, text: str, task: Task) -> str | None:
    """The code for ``given`` (a code or a name); an unknown one is kept lowercased; none: guessed."""
    if task == "translate":
        return "en"
    raw = given.strip().lower() if given else ""
    return language_code(raw) or raw or guess_language(text)


def checked_seconds(value: float, *, exact: bool = False) -> float:
    """Finite, non-negative seconds; a probe figure (not ``exact``) is rounded to the millisecond, since
    it carries float noise (2.5004988662131518) that would otherwise show in ``verbose_json``."""
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"duration must be a finite number of seconds >= 0, got {value!r}")
    return seconds if exact else round(seconds, 3)


def last_end(segments: tuple[Segment, ...], words: tuple[Word, ...] | None) -> float:
    ends = [s.end for s in segments] + [w.end for w in words or ()]
    finite = [e for e in ends if math.isfinite(e) and e > 0]
    return max(finite, default=0.0)


def clean_text(text: str) -> str:
    """Replace lone surrogates (stdlib ``json`` lets ``"\\ud800"`` through) so the text encodes as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def clean_segment(segment: Segment) -> Segment:
    cleaned = clean_text(segment.text)
    return segment if cleaned is segment.text else msgspec.structs.replace(segment, text=cleaned)


def clean_word(word: Word) -> Word:
    cleaned = clean_text(word.word)
    return word if cleaned is word.word else msgspec.structs.replace(word, word=cleaned)
