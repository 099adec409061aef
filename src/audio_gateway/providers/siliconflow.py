"""SiliconFlow adapter: OpenAI-like paths, but its own voices, fields and error bodies.

Voices travel as `"<upstream model>:<name>"`; transcription takes only `file` and
`model` and answers `{"text"}` alone, so timing comes from the gateway's probe.
Errors are `{"code", "message", "data"}` JSON or plain text (`Invalid token`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx
import msgspec

from ..audio.formats import speech_content_type
from ..audio.transcript import Transcript, transcript_from_text
from .base import AudioStream, SpeechCall, TranscriptionCall, UpstreamFailure
from .redact import safe_message
from .transport import open_stream, read_response, retry_after_seconds
from .upstream import Upstream

__all__ = ["SiliconFlowAdapter", "map_siliconflow_error"]


def map_siliconflow_error(status: int, body: bytes, headers: httpx.Headers, *, api_key: str = "") -> UpstreamFailure:
    text = body.decode("utf-8", "replace").strip()
    message, code = text[:500] or f"HTTP {status}", None
    try:
        decoded = msgspec.json.decode(body)
        if isinstance(decoded, dict):
            message = str(decoded.get("message") or message)
            code = None if decoded.get("code") is None else str(decoded["code"])
    except msgspec.DecodeError:
        pass
    return UpstreamFailure("status", safe_message(status, message, api_key), status=status,
                           retry_after=retry_after_seconds(headers), code=code)


class SiliconFlowAdapter:
    def __init__(self, upstream: Upstream):
        self.upstream = upstream
        self.provider = upstream.provider

    async def speech(self, call: SpeechCall) -> AudioStream:
        voice = call.voice if isinstance(call.voice, str) else call.voice.get("id", "")
        body: dict[str, Any] = {
            "model": call.upstream_model,
            "input": call.input,
            "voice": f"{call.upstream_model}:{voice}",
            "response_format": call.response_format,
            "stream": True,
        }
        if call.speed is not None:
            body["speed"] = call.speed
        request = self.upstream.request(
            "POST", "audio/speech", content=msgspec.json.encode(body), headers={"Content-Type": "application/json"}
        )
        response, first, rest = await open_stream(self.upstream, request, partial(map_siliconflow_error, api_key=self.provider.api_key))
        if not response.headers.get("content-type", "").startswith(("audio/", "application/octet-stream")):
            await response.aclose()
            raise UpstreamFailure("malformed", f"expected audio, got {response.headers.get('content-type')!r}")
        return AudioStream(speech_content_type(call.response_format), first, rest, response.aclose)

    async def transcribe(self, call: TranscriptionCall) -> Transcript:
        call.file.seek(0)
        response = await read_response(self.upstream, self.upstream.request(
            "POST", "audio/transcriptions", data={"model": call.upstream_model},
            files={"file": (call.filename, call.file, call.content_type)}))
        if response.status_code >= 400:
            raise map_siliconflow_error(response.status_code, response.content[:65536], response.headers,
                                        api_key=self.provider.api_key)
        try:
            text = msgspec.json.decode(response.content)["text"]
            if not isinstance(text, str):
                raise TypeError("text is not a string")
        except (msgspec.DecodeError, KeyError, TypeError) as exc:
            raise UpstreamFailure("malformed", f"unreadable transcription response ({exc})") from None
        return transcript_from_text(text.strip(), duration=call.duration, language=call.language, task=call.task)
