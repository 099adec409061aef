"""OpenAI Audio API adapter: requests are already OpenAI-shaped, so translation is thin.

Speech is streamed through as it arrives; for `stream_format: sse` the usage event
is read on the way past (it is the only place gpt-4o-mini-tts reports tokens).
Transcriptions ask for `verbose_json` when the catalog says so, so the gateway can
render every response format itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import httpx
import msgspec

from ..audio.formats import speech_content_type
from ..audio.transcript import Transcript, transcript_from_openai_json, transcript_from_openai_verbose
from .base import AudioStream, SpeechCall, TranscriptionCall, UpstreamFailure
from .redact import safe_message
from .transport import open_stream, read_response, retry_after_seconds
from .upstream import Upstream

__all__ = ["OpenAIAdapter", "map_openai_error"]


def map_openai_error(status: int, body: bytes, headers: httpx.Headers, *, api_key: str = "") -> UpstreamFailure:
    """OpenAI's `{"error": {message, type, param, code}}`, kept field by field."""
    message, param, code, type_ = body.decode("utf-8", "replace").strip()[:500] or f"HTTP {status}", None, None, None
    try:
        error = msgspec.json.decode(body).get("error")
        if isinstance(error, dict):
            message = str(error.get("message") or message)
            param, code, type_ = error.get("param"), error.get("code"), error.get("type")
    except (msgspec.DecodeError, AttributeError):
        pass
    return UpstreamFailure("status", safe_message(status, message, api_key), status=status,
                           retry_after=retry_after_seconds(headers), param=param,
                           code=None if code is None else str(code), error_type=type_)


class _SseUsageTap:
    """Watches an SSE byte stream for `speech.audio.done` and keeps its usage; bytes pass unchanged."""

    def __init__(self, stream: AudioStream | None = None):
        self._pending = b""
        self.stream = stream

    def feed(self, chunk: bytes) -> None:
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            if line.startswith(b"data:") and b"speech.audio.done" in line:
                try:
                    event = msgspec.json.decode(line[5:].strip())
                except msgspec.DecodeError:
                    continue
                if self.stream is not None and isinstance(event.get("usage"), dict):
                    self.stream.usage = event["usage"]

    async def wrap(self, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in rest:
            self.feed(chunk)
            yield chunk


class OpenAIAdapter:
    def __init__(self, upstream: Upstream):
        self.upstream = upstream
        self.provider = upstream.provider

    async def speech(self, call: SpeechCall) -> AudioStream:
        body: dict[str, Any] = {
            "model": call.upstream_model, "input": call.input, "voice": call.voice,
            "response_format": call.response_format,
        }
        if call.speed is not None:
            body["speed"] = call.speed
        if call.instructions:
            body["instructions"] = call.instructions
        if call.stream_format != "audio":
            body["stream_format"] = call.stream_format
        request = self.upstream.request(
            "POST", "audio/speech", content=msgspec.json.encode(body), headers={"Content-Type": "application/json"}
        )
        response, first, rest = await open_stream(self.upstream, request, partial(map_openai_error, api_key=self.provider.api_key))
        if call.stream_format == "sse":
            tap = _SseUsageTap()
            stream = AudioStream("text/event-stream", first, tap.wrap(rest), response.aclose)
            tap.stream = stream
            tap.feed(first)  # after `stream` is set: a short reply can hold the done event in its first chunk
            return stream
        content_type = speech_content_type(call.response_format)
        if not response.headers.get("content-type", "").startswith(("audio/", "application/octet-stream")):
            await response.aclose()
            raise UpstreamFailure("malformed", f"expected audio, got {response.headers.get('content-type')!r}")
        return AudioStream(content_type, first, rest, response.aclose)

    async def transcribe(self, call: TranscriptionCall) -> Transcript:
        data: dict[str, Any] = {"model": call.upstream_model, "response_format": call.upstream_response_format}
        if call.language and call.task == "transcribe":
            data["language"] = call.language
        if call.prompt:
            data["prompt"] = call.prompt
        if call.temperature is not None:
            data["temperature"] = str(call.temperature)
        if call.upstream_response_format == "verbose_json":
            data["timestamp_granularities[]"] = list(call.timestamp_granularities or ("segment",))
        call.file.seek(0)
        path = "audio/translations" if call.task == "translate" else "audio/transcriptions"
        response = await read_response(self.upstream, self.upstream.request(
            "POST", path, data=data, files={"file": (call.filename, call.file, call.content_type)}))
        if response.status_code >= 400:
            raise map_openai_error(response.status_code, response.content[:65536], response.headers,
                                   api_key=self.provider.api_key)
        try:
            body = msgspec.json.decode(response.content)
            if not isinstance(body, dict) or not isinstance(body.get("text"), str):
                raise ValueError("no text")
            if call.upstream_response_format == "verbose_json":
                return transcript_from_openai_verbose(body, task=call.task)
            return transcript_from_openai_json(body, duration=call.duration, language=call.language, task=call.task)
        except (msgspec.DecodeError, ValueError, TypeError, KeyError, msgspec.ValidationError) as exc:
            raise UpstreamFailure("malformed", f"unreadable transcription response ({exc})") from None
