"""OpenAI's Audio API (and any server speaking it: `adapter: openai` with `auth: none` for self-hosted).

Requests are already OpenAI-shaped, so translation is thin. Speech asks for `stream_format: sse` when
the call needs usage (gpt-4o-mini-tts reports tokens only in `speech.audio.done`); the runner unwraps
the base64 deltas back into audio. Transcriptions ask for `verbose_json` where the catalog says so, so
the gateway can render every response format itself; token usage (gpt-4o-*-transcribe) is read from
the body. Errors are `{"error": {message, type, param, code}}`.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar

import msgspec

from ..audio.transcript import (
    Segment,
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
from .base import SpeechCall, TranscriptionCall, TranscriptionResult
from .translator import AudioDelta, AudioDone, Malformed, Multipart, ProviderError, UpstreamRequest

__all__ = ["OpenAITranslator", "usage_from_openai", "transcript_from_openai_verbose", "transcript_from_openai_json"]


class _VerboseBody(msgspec.Struct):
    """What the gateway reads from whisper-1's `verbose_json`; unknown keys are ignored."""

    text: str
    language: str | None = None
    duration: float | None = None
    segments: tuple[Segment, ...] = ()
    words: tuple[Word, ...] | None = None


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


def transcript_from_openai_json(body: dict[str, Any], duration: float, language: str | None, task: Task) -> Transcript:
    """An OpenAI-shaped `{"text": ...}` body, when no timings are available."""
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str):
        raise ValueError("transcription body has no 'text' string")
    return transcript_from_text(text, duration=duration, language=language, task=task)


def usage_from_openai(usage: Any) -> Usage:
    """Token usage in either of OpenAI's shapes (speech done event; transcription `type: tokens`)."""
    if not isinstance(usage, dict) or usage.get("type") == "duration":
        return Usage()  # duration usage restates what the gateway measured itself
    found: dict[Unit, int] = {}
    details = usage.get("input_token_details")
    if isinstance(details, dict):
        for key, unit in (("audio_tokens", Unit.AUDIO_INPUT_TOKEN), ("text_tokens", Unit.INPUT_TOKEN)):
            if isinstance(details.get(key), int):
                found[unit] = details[key]
    elif isinstance(usage.get("input_tokens"), int):
        found[Unit.INPUT_TOKEN] = usage["input_tokens"]
    if isinstance(usage.get("output_tokens"), int):
        found[Unit.OUTPUT_TOKEN] = usage["output_tokens"]
    return Usage.of(found)


class OpenAITranslator:
    AUDIO_CONTENT_TYPES: ClassVar[tuple[str, ...]] = ("audio/", "application/octet-stream")

    def speech_request(self, call: SpeechCall) -> UpstreamRequest:
        body: dict[str, object] = {"model": call.upstream_model, "input": call.input, "voice": call.voice,
                                   "response_format": call.response_format}
        if call.speed is not None:
            body["speed"] = call.speed
        if call.instructions:
            body["instructions"] = call.instructions
        if call.usage_stream:
            body["stream_format"] = "sse"
        return UpstreamRequest(path="audio/speech", json=body)

    def speech_event(self, data: bytes) -> AudioDelta | AudioDone | None:
        event = msgspec.json.decode(data)
        if not isinstance(event, dict):
            raise Malformed("an event is not a JSON object")
        kind = event.get("type")
        if kind == "speech.audio.delta":
            audio = event.get("audio")
            if not isinstance(audio, str):
                raise Malformed("a delta has no audio")
            return AudioDelta(base64.b64decode(audio, validate=True))
        if kind == "speech.audio.done":
            return AudioDone(usage_from_openai(event.get("usage")))
        return None

    def transcription_request(self, call: TranscriptionCall) -> UpstreamRequest:
        fields: dict[str, str | list[str]] = {"model": call.upstream_model,
                                              "response_format": call.upstream_response_format}
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
        path = "audio/translations" if call.task == "translate" else "audio/transcriptions"
        return UpstreamRequest(path=path, multipart=Multipart(fields=fields, file_field="file", filename=call.filename,
                                                              file=call.file, content_type=call.content_type))

    def transcription_result(self, call: TranscriptionCall, content_type: str, body: bytes) -> TranscriptionResult:
        if call.upstream_response_format == "text":
            if not content_type.startswith("text/"):
                raise Malformed(f"expected text, got {content_type!r}")
            text = body.decode("utf-8", "replace").strip()
            return TranscriptionResult(transcript_from_text(text, duration=call.duration, language=call.language,
                                                            task=call.task))
        decoded = msgspec.json.decode(body)
        if not isinstance(decoded, dict) or not isinstance(decoded.get("text"), str):
            raise Malformed("the body has no `text` string")
        usage = usage_from_openai(decoded.get("usage"))
        if call.upstream_response_format == "verbose_json":
            return TranscriptionResult(transcript_from_openai_verbose(decoded, call.task), usage)
        return TranscriptionResult(
            transcript_from_openai_json(decoded, duration=call.duration, language=call.language, task=call.task), usage)

    def error(self, status: int, content_type: str, body: bytes) -> ProviderError:
        message = body.decode("utf-8", "replace").strip()[:500] or f"HTTP {status}"
        try:
            decoded = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return ProviderError(message=message)
        error = decoded.get("error") if isinstance(decoded, dict) else None
        if not isinstance(error, dict):
            return ProviderError(message=message)
        code, param, kind = error.get("code"), error.get("param"), error.get("type")
        return ProviderError(message=str(error.get("message") or message), param=param if isinstance(param, str) else None,
                             code=None if code is None else str(code), type=kind if isinstance(kind, str) else None)
