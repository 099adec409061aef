"""OpenAI's Audio API (and any server speaking it: `adapter: openai` with `auth: none` for self-hosted).

Requests are already OpenAI-shaped, so translation is thin. Speech asks for `stream_format: sse` when
the call needs usage (gpt-4o-mini-tts reports tokens only in `speech.audio.done`); the runner unwraps
the base64 deltas back into audio. Transcriptions ask for the catalog's `upstream_response_format`
(whisper-1 `verbose_json`, gpt-4o-*-transcribe `json`, diarize `diarized_json`) so the gateway can
render every response format itself, and for `stream=true` events where the model streams; that wire
format is `openai_transcription.py`. Errors are `{"error": {message, type, param, code}}`.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar

import msgspec

from ..audio.transcript import transcript_from_text
from ..billing.units import Unit
from ..billing.usage import Usage
from .base import SpeechCall, TranscriptEvent, TranscriptionCall, TranscriptionResult
from .openai_transcription import (
    token_usage,
    transcript_event,
    transcript_from_openai_diarized,
    transcript_from_openai_json,
    transcript_from_openai_verbose,
    transcription_fields,
    transcription_usage_from_openai,
)
from .translator import AudioDelta, AudioDone, Malformed, Multipart, ProviderError, UpstreamRequest

__all__ = ["OpenAITranslator", "usage_from_openai", "transcript_from_openai_verbose", "transcript_from_openai_json"]


def usage_from_openai(usage: Any) -> Usage:
    """Speech token usage (`speech.audio.done`: input = the text and instructions, output = audio)."""
    return token_usage(usage, input_unit=Unit.INPUT_TOKEN)


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
        path = "audio/translations" if call.task == "translate" else "audio/transcriptions"
        return UpstreamRequest(path=path, multipart=Multipart(
            fields=transcription_fields(call), file_field="file", filename=call.filename, file=call.file,
            content_type=call.content_type))

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
        usage = transcription_usage_from_openai(decoded.get("usage"))
        if call.upstream_response_format == "verbose_json":
            return TranscriptionResult(transcript_from_openai_verbose(decoded, call.task), usage)
        if call.upstream_response_format == "diarized_json":
            return TranscriptionResult(transcript_from_openai_diarized(
                decoded, duration=call.duration, language=call.language, task=call.task), usage)
        return TranscriptionResult(
            transcript_from_openai_json(decoded, duration=call.duration, language=call.language, task=call.task), usage)

    def transcription_event(self, data: bytes) -> TranscriptEvent | None:
        return transcript_event(data)

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
