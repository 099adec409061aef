"""Render a ``Transcript`` as the client's ``response_format``, byte-for-byte the way OpenAI does.

The gateway always asks whisper-1 for ``verbose_json`` and SenseVoice gives bare text, so the requested
format is produced here, once, for both providers. Content types follow OpenAI's live responses: JSON
formats are ``application/json``; ``text``, ``srt`` and ``vtt`` all come back as
``text/plain; charset=utf-8`` (OpenAI does not send ``text/vtt``).

Subtitle cues are made safe whatever the provider sent: times are clamped to ``[0, duration]``, starts
never go backwards, a cue never ends before it starts, and times are formatted from whole milliseconds
(so no ``00:00:60,000``, and hours simply grow past 99). ``verbose_json`` passes the provider's segment
and word timings through untouched.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Final, Literal

import msgspec

from .languages import language_name
from .transcript import Logprob, Segment, Transcript, Word
from .transcript import clean_text as _clean
from .transcript_events import sse_delta, sse_done, transcript_deltas
from .usage_report import DurationUsage, UsageReport

__all__ = [
    "DIARIZED_JSON",
    "EVENT_STREAM_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "RESPONSE_FORMATS",
    "TEXT_CONTENT_TYPE",
    "Rendered",
    "ResponseFormat",
    "render_transcript",
    "render_transcript_events",
]

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
# Every transcript renders in these; `diarized_json` only from a diarizing model's transcript.
RESPONSE_FORMATS: Final[tuple[ResponseFormat, ...]] = ("json", "text", "srt", "verbose_json", "vtt")
DIARIZED_JSON: Final = "diarized_json"
JSON_CONTENT_TYPE: Final = "application/json"
TEXT_CONTENT_TYPE: Final = "text/plain; charset=utf-8"
EVENT_STREAM_CONTENT_TYPE: Final = "text/event-stream; charset=utf-8"
# Cue times are clamped here (about 285,000 years): a provider's absurd duration such as 1e308 s would
# otherwise overflow to infinity when turned into milliseconds.
_MAX_MS: Final = 2**53


class Rendered(msgspec.Struct, frozen=True):
    """A finished response body and the Content-Type to send with it."""

    body: bytes
    content_type: str


# Wire shapes. Field order is OpenAI's key order; UNSET fields are left out of the output.
class _Json(msgspec.Struct):
    text: str
    logprobs: tuple[Logprob, ...] | msgspec.UnsetType = msgspec.UNSET
    usage: UsageReport | msgspec.UnsetType = msgspec.UNSET


class _VerboseJson(msgspec.Struct):
    task: str
    language: str
    duration: float
    text: str
    segments: tuple[Segment, ...] | msgspec.UnsetType = msgspec.UNSET
    words: tuple[Word, ...] | msgspec.UnsetType = msgspec.UNSET
    usage: UsageReport | msgspec.UnsetType = msgspec.UNSET


class _DiarizedSegment(msgspec.Struct, tag_field="type", tag="transcript.text.segment"):
    id: str
    start: float
    end: float
    text: str
    speaker: str


class _DiarizedJson(msgspec.Struct):
    task: str
    duration: float
    text: str
    segments: tuple[_DiarizedSegment, ...]
    usage: UsageReport | msgspec.UnsetType = msgspec.UNSET


_encode = msgspec.json.Encoder().encode


def render_transcript(
    t: Transcript,
    response_format: str,
    *,
    usage_seconds: int | None,
    include_words: bool,
    include_segments: bool = True,
    usage: UsageReport | None = None,
    include_logprobs: bool = False,
) -> Rendered:
    """Render ``t`` as ``response_format`` (json, text, srt, verbose_json, vtt or diarized_json).

    ``usage_seconds`` fills ``usage: {"type": "duration", "seconds": N}`` in the JSON formats; ``usage``
    (a token or duration report) replaces it; with both None ``usage`` is left out (OpenAI's translation
    schemas have none). ``include_words`` and ``include_segments`` mirror ``timestamp_granularities[]``
    and only affect verbose_json; words the provider never produced render as ``[]``.
    ``include_logprobs`` adds the provider's token log probabilities to json (``include[]=logprobs``).
    diarized_json needs a diarized transcript (``t.speakers``). Raises ``ValueError`` otherwise, and for
    any other format.
    """
    report = usage if usage is not None else _usage(usage_seconds)
    if response_format == "json":
        logprobs = t.logprobs if include_logprobs and t.logprobs is not None else msgspec.UNSET
        return Rendered(_json(_Json(text=t.text, logprobs=logprobs, usage=report)), JSON_CONTENT_TYPE)
    if response_format == "text":
        return Rendered(_utf8(t.text.rstrip("\r\n") + "\n"), TEXT_CONTENT_TYPE)
    if response_format == "srt":
        return Rendered(_utf8(_srt(t)), TEXT_CONTENT_TYPE)
    if response_format == "vtt":
        return Rendered(_utf8(_vtt(t)), TEXT_CONTENT_TYPE)
    if response_format == "verbose_json":
        body = _VerboseJson(
            task=t.task,
            language=_language(t),
            duration=t.duration,
            text=t.text,
            segments=t.segments if include_segments else msgspec.UNSET,
            words=(t.words or ()) if include_words else msgspec.UNSET,
            usage=report,
        )
        return Rendered(_json(body), JSON_CONTENT_TYPE)
    if response_format == DIARIZED_JSON:
        if t.speakers is None:
            raise ValueError("diarized_json needs a diarized transcript (a diarizing model's answer)")
        segments = tuple(_DiarizedSegment(id=s.id, start=s.start, end=s.end, text=s.text, speaker=s.speaker)
                         for s in t.speakers)
        diarized = _DiarizedJson(task=t.task, duration=t.duration, text=t.text, segments=segments, usage=report)
        return Rendered(_json(diarized), JSON_CONTENT_TYPE)
    raise ValueError(f"unsupported response_format {response_format!r}; expected one of {RESPONSE_FORMATS}")


def render_transcript_events(
    t: Transcript,
    usage_seconds: int | None = None,
    *,
    done_sentinel: bool = True,
    usage: UsageReport | None = None,
    include_logprobs: bool = False,
) -> bytes:
    """The whole ``stream: true`` body of a finished transcript: ``transcript.text.delta`` events, then
    ``transcript.text.done``.

    Deltas follow the segments when they add up to the text (else one delta carries it all), so a client
    that concatenates deltas gets exactly ``done.text``. ``usage`` (or a duration usage from
    ``usage_seconds``) goes in ``done``; with neither it is left out, which the schema allows. The
    stream ends with ``data: [DONE]`` like OpenAI's (``done_sentinel=False`` drops it).
    """
    events = [sse_delta(delta) for delta in transcript_deltas(t)]
    if usage is None and usage_seconds is not None:
        usage = DurationUsage(seconds=usage_seconds)
    logprobs = t.logprobs if include_logprobs else None
    events.append(sse_done(t.text, logprobs=logprobs, usage=usage, sentinel=done_sentinel))
    return b"".join(events)


def _usage(seconds: int | None) -> UsageReport | msgspec.UnsetType:
    return msgspec.UNSET if seconds is None else DurationUsage(seconds=seconds)


def _language(t: Transcript) -> str:
    """verbose_json names the language ("english"); an unknown code is shown as-is."""
    if t.task == "translate":
        return "english"
    if not t.language:
        return "english"  # Whisper's own default when nothing is known (empty or script-less text)
    return language_name(t.language) or t.language


def _json(body: msgspec.Struct) -> bytes:
    try:
        return _encode(body)
    except UnicodeEncodeError:  # a Transcript built by hand with lone surrogates; constructors clean them
        return _encode(msgspec.convert(_scrub(msgspec.to_builtins(body)), type(body)))


def _scrub(value: object) -> object:
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _clean(text).encode("utf-8")


# --- subtitles ---------------------------------------------------------------------------------------


def _srt(t: Transcript) -> str:
    out: list[str] = []
    for n, (start, end, text) in enumerate(_cues(t, vtt=False), start=1):
        out.append(f"{n}\n{_stamp(start, ',')} --> {_stamp(end, ',')}\n{text}\n\n")
    return "".join(out)


def _vtt(t: Transcript) -> str:
    out = ["WEBVTT\n\n"]
    for start, end, text in _cues(t, vtt=True):
        out.append(f"{_stamp(start, '.')} --> {_stamp(end, '.')}\n{text}\n\n")
    return "".join(out)


def _cues(t: Transcript, *, vtt: bool) -> Iterator[tuple[int, int, str]]:
    """(start_ms, end_ms, text) per non-empty segment: clamped, start <= end, starts non-decreasing."""
    limit = _limit_ms(t)
    previous = 0
    for segment in t.segments:
        text = _cue_text(segment.text, vtt=vtt)
        if not text:
            continue
        start = max(_ms(segment.start, limit), previous)
        end = max(_ms(segment.end, limit), start)
        previous = start
        yield start, end, text


def _limit_ms(t: Transcript) -> int:
    """The clamp ceiling: the audio's duration; if that is unknown (0), the latest finite segment end."""
    if math.isfinite(t.duration) and t.duration > 0:
        return round(min(t.duration * 1000, _MAX_MS))
    ends = [s.end for s in t.segments if math.isfinite(s.end) and s.end > 0]
    return round(min(max(ends, default=0.0) * 1000, _MAX_MS))


def _ms(seconds: float, limit: int) -> int:
    if math.isnan(seconds) or seconds <= 0:
        return 0
    if math.isinf(seconds):
        return limit
    return min(round(min(seconds * 1000.0, float(limit))), limit)


def _stamp(ms: int, sep: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{millis:03d}"


def _cue_text(text: str, *, vtt: bool) -> str:
    """Trimmed cue text with no blank lines (a blank line would end the cue early); VTT forbids ``-->``."""
    lines = (line.strip() for line in _clean(text).splitlines())
    joined = "\n".join(line for line in lines if line)
    while vtt and "-->" in joined:  # one pass would turn "--->" into "-->"
        joined = joined.replace("-->", "->")
    return joined
