"""SiliconFlow: OpenAI-like paths, but its own voices, fields and error bodies.

Voices travel as `"<upstream model>:<name>"`; speech streams raw audio (no usage report), and WAV/PCM
are asked for at 24 kHz, OpenAI's rate, so clients (and a job's stitched pieces) get the same audio
whichever provider served. Transcription takes only `file` and `model` and answers `{"text"}` alone, so
timing comes from the gateway's probe. Errors are `{"code", "message", "data"}` JSON or plain text
(`Invalid token`, `404 page not found`).
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from ..audio.transcript import transcript_from_text
from .base import SpeechCall, TranscriptEvent, TranscriptionCall, TranscriptionResult
from .translator import AudioDelta, AudioDone, Malformed, Multipart, ProviderError, UpstreamRequest

__all__ = ["SiliconFlowTranslator"]

_PCM_RATE = 24000  # OpenAI's pcm is 24 kHz s16le mono; SiliconFlow's default would be 44.1 kHz
_RATE_FORMATS = frozenset({"wav", "pcm"})


class _Text(msgspec.Struct):
    text: str


class SiliconFlowTranslator:
    AUDIO_CONTENT_TYPES: ClassVar[tuple[str, ...]] = ("audio/", "application/octet-stream")

    def speech_request(self, call: SpeechCall) -> UpstreamRequest:
        voice = call.voice if isinstance(call.voice, str) else call.voice.get("id", "")
        body: dict[str, object] = {"model": call.upstream_model, "input": call.input,
                                   "voice": f"{call.upstream_model}:{voice}", "response_format": call.response_format,
                                   "stream": True}
        if call.response_format in _RATE_FORMATS:
            body["sample_rate"] = _PCM_RATE
        if call.speed is not None:
            body["speed"] = call.speed
        return UpstreamRequest(path="audio/speech", json=body)

    def speech_event(self, data: bytes) -> AudioDelta | AudioDone | None:
        raise Malformed("SiliconFlow speech has no event stream")

    def transcription_request(self, call: TranscriptionCall) -> UpstreamRequest:
        return UpstreamRequest(path="audio/transcriptions", multipart=Multipart(
            fields={"model": call.upstream_model}, file_field="file", filename=call.filename, file=call.file,
            content_type=call.content_type))

    def transcription_result(self, call: TranscriptionCall, content_type: str, body: bytes) -> TranscriptionResult:
        text = msgspec.json.decode(body, type=_Text).text
        return TranscriptionResult(transcript_from_text(text.strip(), duration=call.duration, language=call.language,
                                                        task=call.task))

    def transcription_event(self, data: bytes) -> TranscriptEvent | None:
        raise Malformed("SiliconFlow transcription has no event stream")

    def error(self, status: int, content_type: str, body: bytes) -> ProviderError:
        text = body.decode("utf-8", "replace").strip()
        message, code = text[:500] or f"HTTP {status}", None
        try:
            decoded = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return ProviderError(message=message)
        if isinstance(decoded, dict):
            message = str(decoded.get("message") or message)
            code = None if decoded.get("code") is None else str(decoded["code"])
        return ProviderError(message=message, code=code)
