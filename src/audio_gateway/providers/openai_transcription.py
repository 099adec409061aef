"""OpenAI's transcription wire format, both ways: the multipart request, and every answer shape.

Requests carry the fields the way the OpenAI SDK encodes them (`include[]`, `known_speaker_names[]`,
`chunking_strategy[type]=server_vad`...), so OpenAI and any server speaking its API read them as
from the SDK. Answers: whisper-1's `verbose_json`, gpt-4o-*-transcribe's `json` (with `logprobs` when
asked), gpt-4o-transcribe-diarize's `diarized_json`, and the `stream=true` events
(`transcript.text.delta` / `.segment` / `.done`). Token usage is read from `usage: {"type": "tokens"}`;
a duration usage restates what the gateway measured itself and is not billed from (issue 20: the
gateway bills the audio it decoded, not a figure derived from container headers).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..audio.transcript import (
    Logprob,
    Segment,
    SpeakerSegment,
    Task,
    Transcript,
    Word,
    checked_seconds,
    clean_segment,
    clean_text,
    clean_word,
    last_end,
    transcript_from_text,
    transcript_language,
)
from ..billing.units import Unit
from ..billing.usage import Usage
from .base import ServerVad, TranscriptDelta, TranscriptDone, TranscriptEvent, TranscriptionCall, TranscriptSegment
from .translator import Malformed, ProviderError, StreamError

__all__ = ["transcription_fields", "transcript_from_openai_verbose", "transcript_from_openai_json",
           "transcript_from_openai_diarized", "transcription_usage_from_openai", "token_usage", "transcript_event",
           "logprobs_from_openai"]


class _VerboseBody(msgspec.Struct):
    """What the gateway reads from whisper-1's `verbose_json`; unknown keys are ignored."""

    text: str
    language: str | None = None
    duration: float | None = None
    segments: tuple[Segment, ...] = ()
    words: tuple[Word, ...] | None = None


class _SpeakerSegmentBody(msgspec.Struct):
    id: str
    start: float
    end: float
    text: str
    speaker: str


class _DiarizedBody(msgspec.Struct):
    text: str
    duration: float | None = None
    segments: tuple[_SpeakerSegmentBody, ...] = ()


def transcription_fields(call: TranscriptionCall) -> dict[str, str | list[str]]:
    """The multipart text fields for one call, encoded as the OpenAI SDK encodes them."""
    fields: dict[str, str | list[str]] = {"model": call.upstream_model, "response_format": call.upstream_response_format}
    if call.language and call.task == "transcribe":
        fields["language"] = call.language
    if call.prompt:
        fields["prompt"] = call.prompt
    if call.temperature is not None:
        fields["temperature"] = str(call.temperature)
    if call.upstream_response_format == "verbose_json":
        fields["timestamp_granularities[]"] = list(call.timestamp_granularities or ("segment",))
    if call.include:
        fields["include[]"] = list(call.include)
    if call.stream:
        fields["stream"] = "true"
    strategy = call.chunking_strategy
    if strategy == "auto":
        fields["chunking_strategy"] = "auto"
    elif isinstance(strategy, ServerVad):
        fields["chunking_strategy[type]"] = "server_vad"
        for name in ("prefix_padding_ms", "silence_duration_ms", "threshold"):
            value = getattr(strategy, name)
            if value is not None:
                fields[f"chunking_strategy[{name}]"] = str(value)
    if call.known_speaker_names:
        fields["known_speaker_names[]"] = list(call.known_speaker_names)
        fields["known_speaker_references[]"] = list(call.known_speaker_references)
    return fields


def transcript_from_openai_verbose(body: dict[str, Any], task: Task, *, duration: float | None = None) -> Transcript:
    """OpenAI's `verbose_json` body (already JSON-decoded) → the neutral transcript.

    The body's `language` is a name ("english") and is stored as its code ("en"); a name missing from
    Whisper's table is kept lowercased as-is, so rendering gives it back unchanged. `duration` (the
    gateway's own probe) is used only when the body lacks one. Raises `msgspec.ValidationError` (a
    `ValueError`) when the body is not verbose_json."""
    parsed = msgspec.convert(body, _VerboseBody, strict=False)
    text = clean_text(parsed.text)
    seconds = parsed.duration if parsed.duration is not None else duration
    return Transcript(
        text=text,
        language=transcript_language(parsed.language, text, task),
        duration=checked_seconds(seconds if seconds is not None else last_end(parsed.segments, parsed.words), exact=True),
        segments=tuple(clean_segment(s) for s in parsed.segments),
        words=None if parsed.words is None else tuple(clean_word(w) for w in parsed.words),
        task=task,
    )


def logprobs_from_openai(raw: Any) -> tuple[Logprob, ...] | None:
    """`[{token, logprob, bytes}]` → typed log probabilities; absent → None."""
    if raw is None:
        return None
    return msgspec.convert(raw, tuple[Logprob, ...], strict=False)


def transcript_from_openai_json(body: dict[str, Any], duration: float, language: str | None, task: Task) -> Transcript:
    """An OpenAI-shaped `{"text": ...}` body (gpt-4o-*-transcribe: maybe with `logprobs`), no timings."""
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str):
        raise ValueError("transcription body has no 'text' string")
    transcript = transcript_from_text(text, duration=duration, language=language, task=task)
    logprobs = logprobs_from_openai(body.get("logprobs"))
    return transcript if logprobs is None else msgspec.structs.replace(transcript, logprobs=logprobs)


def transcript_from_openai_diarized(body: dict[str, Any], duration: float, language: str | None,
                                    task: Task) -> Transcript:
    """gpt-4o-transcribe-diarize's `diarized_json`: speaker segments, which also time the subtitles."""
    parsed = msgspec.convert(body, _DiarizedBody, strict=False)
    text = clean_text(parsed.text)
    speakers = tuple(SpeakerSegment(id=s.id, start=s.start, end=s.end, text=clean_text(s.text), speaker=s.speaker)
                     for s in parsed.segments)
    segments = tuple(Segment(id=index, seek=0, start=s.start, end=s.end, text=s.text)
                     for index, s in enumerate(speakers))
    seconds = parsed.duration if parsed.duration is not None else duration
    return Transcript(text=text, language=transcript_language(language, text, task),
                      duration=checked_seconds(seconds, exact=parsed.duration is not None), segments=segments,
                      words=None, task=task, speakers=speakers)


def token_usage(usage: Any, *, input_unit: Unit) -> Usage:
    """OpenAI's token usage, in either shape: speech's `speech.audio.done` usage (input = text, output =
    audio) and transcription's `{"type": "tokens", input_token_details: {audio_tokens, text_tokens}, ...}`.

    Input tokens without `input_token_details` are `input_unit` (speech: text; transcription: audio, the
    prompt's text tokens being few). A duration usage gives nothing: the gateway bills the seconds it measured."""
    if not isinstance(usage, dict) or usage.get("type") not in (None, "tokens"):
        return Usage()
    found: dict[Unit, int] = {}
    details = usage.get("input_token_details")
    if isinstance(details, dict):
        for key, unit in (("audio_tokens", Unit.AUDIO_INPUT_TOKEN), ("text_tokens", Unit.INPUT_TOKEN)):
            if isinstance(details.get(key), int):
                found[unit] = details[key]
    elif isinstance(usage.get("input_tokens"), int):
        found[input_unit] = usage["input_tokens"]
    if isinstance(usage.get("output_tokens"), int):
        found[Unit.OUTPUT_TOKEN] = usage["output_tokens"]
    return Usage.of(found)


def transcription_usage_from_openai(usage: Any) -> Usage:
    """A transcription's `usage`: only `type: tokens` counts (whisper-1's duration restates the probe)."""
    if not isinstance(usage, dict) or usage.get("type") != "tokens":
        return Usage()
    return token_usage(usage, input_unit=Unit.AUDIO_INPUT_TOKEN)


def _stream_error(event: dict[str, Any]) -> StreamError:
    error = event.get("error")
    detail = error if isinstance(error, dict) else event
    message = detail.get("message")
    code, kind = detail.get("code"), detail.get("type")
    return StreamError(ProviderError(message=message if isinstance(message, str) and message else "stream error",
                                     code=None if code is None else str(code),
                                     type=kind if isinstance(kind, str) else None))


def transcript_event(data: bytes) -> TranscriptEvent | None:
    """One `stream=true` event → a typed event; other event types → None; an error event → `StreamError`."""
    event = msgspec.json.decode(data)
    if not isinstance(event, dict):
        raise Malformed("an event is not a JSON object")
    kind = event.get("type")
    if kind == "error" or isinstance(event.get("error"), dict):
        raise _stream_error(event)
    if kind == "transcript.text.delta":
        delta, segment_id = event.get("delta"), event.get("segment_id")
        if not isinstance(delta, str):
            raise Malformed("a delta has no `delta` string")
        return TranscriptDelta(clean_text(delta), logprobs_from_openai(event.get("logprobs")),
                               segment_id if isinstance(segment_id, str) else None)
    if kind == "transcript.text.segment":
        segment = msgspec.convert(event, _SpeakerSegmentBody, strict=False)
        return TranscriptSegment(SpeakerSegment(id=segment.id, start=segment.start, end=segment.end,
                                                text=clean_text(segment.text), speaker=segment.speaker))
    if kind == "transcript.text.done":
        text = event.get("text")
        if not isinstance(text, str):
            raise Malformed("the done event has no `text` string")
        return TranscriptDone(clean_text(text), logprobs_from_openai(event.get("logprobs")),
                              transcription_usage_from_openai(event.get("usage")))
    return None
