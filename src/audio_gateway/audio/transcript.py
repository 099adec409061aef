"""One transcript value, whichever provider produced it.

whisper-1 answers the gateway in ``verbose_json`` (segments, words, a language *name*); SenseVoice answers
``{"text": ...}`` only. Both become a ``Transcript`` here -- language as an ISO code, duration in seconds --
and ``render`` turns that into whatever ``response_format`` the client asked for, so clients see the same
shapes from either provider.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import msgspec

from .languages import guess_language, language_code

__all__ = [
    "Segment",
    "Task",
    "Transcript",
    "Word",
    "transcript_from_openai_json",
    "transcript_from_openai_verbose",
    "transcript_from_text",
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


class Transcript(msgspec.Struct, frozen=True):
    """A provider's result, normalised. ``language`` is an ISO-639-1 code (or None when unknown)."""

    text: str
    language: str | None
    duration: float
    segments: tuple[Segment, ...]
    words: tuple[Word, ...] | None
    task: Task


class _VerboseBody(msgspec.Struct):
    """What the gateway reads from whisper-1's ``verbose_json``; unknown keys are ignored."""

    text: str
    language: str | None = None
    duration: float | None = None
    segments: tuple[Segment, ...] = ()
    words: tuple[Word, ...] | None = None


def transcript_from_openai_verbose(
    body: dict[str, Any], task: Task, *, duration: float | None = None
) -> Transcript:
    """Build from OpenAI's ``verbose_json`` body (already JSON-decoded).

    The body's ``language`` is a name ("english") and is stored as its code ("en"); a name missing from
    Whisper's table is kept lowercased as-is, so rendering gives it back unchanged. ``duration`` (the
    gateway's own probe) is used only when the body lacks one. Raises ``msgspec.ValidationError`` (a
    ``ValueError``) when the body is not verbose_json.
    """
    parsed = msgspec.convert(body, _VerboseBody, strict=False)
    text = _clean(parsed.text)
    seconds = parsed.duration if parsed.duration is not None else duration
    return Transcript(
        text=text,
        language=_language(parsed.language, text, task),
        duration=_seconds(
            seconds if seconds is not None else _last_end(parsed.segments, parsed.words), exact=True
        ),
        segments=tuple(_clean_segment(s) for s in parsed.segments),
        words=None if parsed.words is None else tuple(_clean_word(w) for w in parsed.words),
        task=task,
    )


def transcript_from_text(text: str, *, duration: float, language: str | None, task: Task) -> Transcript:
    """Build from a bare transcript (SenseVoice, or any provider that gives text only).

    ``duration`` is the gateway's probe of the upload. The whole text becomes one segment spanning
    ``[0, duration]`` with neutral scores; empty text gives no segments. ``language`` is the request's
    (code or name); when absent, a translation is English and a transcription's language is guessed from
    the text's script (``guess_language``), since the provider does not say.
    """
    text = _clean(text)
    seconds = _seconds(duration)
    segments = (Segment(id=0, seek=0, start=0.0, end=seconds, text=text),) if text.strip() else ()
    return Transcript(
        text=text,
        language=_language(language, text, task),
        duration=seconds,
        segments=segments,
        words=None,
        task=task,
    )


def transcript_from_openai_json(
    body: dict[str, Any], duration: float, language: str | None, task: Task
) -> Transcript:
    """Build from an OpenAI-shaped ``{"text": ...}`` body, when no timings are available."""
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str):
        raise ValueError("transcription body has no 'text' string")
    return transcript_from_text(text, duration=duration, language=language, task=task)


def _language(given: str | None, text: str, task: Task) -> str | None:
    """The code for ``given`` (a code or a name); an unknown one is kept lowercased; none: guessed."""
    if task == "translate":
        return "en"
    raw = given.strip().lower() if given else ""
    return language_code(raw) or raw or guess_language(text)


def _seconds(value: float, *, exact: bool = False) -> float:
    """Finite, non-negative seconds; a probe figure (not ``exact``) is rounded to the millisecond, since
    it carries float noise (2.5004988662131518) that would otherwise show in ``verbose_json``."""
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"duration must be a finite number of seconds >= 0, got {value!r}")
    return seconds if exact else round(seconds, 3)


def _last_end(segments: tuple[Segment, ...], words: tuple[Word, ...] | None) -> float:
    ends = [s.end for s in segments] + [w.end for w in words or ()]
    finite = [e for e in ends if math.isfinite(e) and e > 0]
    return max(finite, default=0.0)


def _clean(text: str) -> str:
    """Replace lone surrogates (stdlib ``json`` lets ``"\\ud800"`` through) so the text encodes as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _clean_segment(segment: Segment) -> Segment:
    cleaned = _clean(segment.text)
    return segment if cleaned is segment.text else msgspec.structs.replace(segment, text=cleaned)


def _clean_word(word: Word) -> Word:
    cleaned = _clean(word.word)
    return word if cleaned is word.word else msgspec.structs.replace(word, word=cleaned)
