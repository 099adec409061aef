"""`HttpAdapter`: the one place HTTP providers are talked to; translators only translate.

Everything every HTTP provider needs is done here, once: the request is built from the translator's
`UpstreamRequest` (auth and timeouts come with `Upstream`), sent within the first-byte deadline, an
error status becomes an `UpstreamFailure` carrying the provider's own fields with its message redacted,
a success is checked for the content type the wire format promises, bodies are bounded (64 KiB of an
error, 16 MiB of a transcript), an event-stream speech answer is unwrapped into plain audio while
its usage report is kept, and an event-stream transcript is read into typed events. Both streams are
handed over only once their first piece (audio chunk, transcript event) has arrived within the
first-byte deadline, so routing can still fall back until then.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import msgspec

from ..audio.formats import speech_content_type
from .base import AudioStream, SpeechCall, TranscriptEvent, TranscriptionCall, TranscriptionResult, TranscriptStream
from .failures import FailureKind, UpstreamFailure
from .multipart_body import multipart_body
from .redact import safe_message
from .sse import SseParser
from .translator import AudioDelta, AudioDone, Malformed, StreamError, Translator, UpstreamRequest
from .transport import first_byte_deadline, guarded, read_bounded, retry_after_seconds
from .upstream import Upstream

__all__ = ["HttpAdapter", "MAX_ERROR_BODY", "MAX_RESULT_BODY"]

MAX_ERROR_BODY = 64 * 1024
MAX_RESULT_BODY = 16 * 1024 * 1024
_EVENT_STREAM = "text/event-stream"


class HttpAdapter:
    def __init__(self, upstream: Upstream, translator: Translator):
        self.upstream = upstream
        self.translator = translator
        self.provider = upstream.provider

    # -- requests -------------------------------------------------------------------------------------

    def _http_request(self, request: UpstreamRequest) -> httpx.Request:
        if request.multipart is not None:
            form = request.multipart
            body = multipart_body(form.fields, form.file_field, form.filename, form.file, form.content_type)
            return self.upstream.request(request.method, request.path, content=body.content,
                                         headers={"Content-Type": body.content_type,
                                                  "Content-Length": str(body.length)})
        return self.upstream.request(request.method, request.path, content=msgspec.json.encode(request.json),
                                     headers={"Content-Type": "application/json"})

    def _failure(self, response: httpx.Response, body: bytes) -> UpstreamFailure:
        content_type = response.headers.get("content-type", "")
        error = self.translator.error(response.status_code, content_type, body)
        return UpstreamFailure(
            FailureKind.STATUS, safe_message(response.status_code, error.message, self.provider.api_key),
            status=response.status_code, retry_after=retry_after_seconds(response.headers), param=error.param,
            code=error.code, error_type=error.type)

    @asynccontextmanager
    async def _answer(self, request: httpx.Request) -> AsyncIterator[httpx.Response]:
        """The provider's answer, everything inside the block still within the first-byte deadline.

        An error status becomes the provider's `UpstreamFailure`; the response is closed when the block
        raises, and otherwise belongs to the caller."""
        response: httpx.Response | None = None
        try:
            async with first_byte_deadline(self.provider):
                response = await self.upstream.send(request)
                if response.status_code >= 400:
                    raise self._failure(response, await read_bounded(response, MAX_ERROR_BODY, truncate=True))
                yield response
        except BaseException:
            if response is not None:
                await response.aclose()
            raise

    @staticmethod
    def _expect(response: httpx.Response, kinds: str | tuple[str, ...], what: str) -> None:
        content_type = response.headers.get("content-type", "")
        if not content_type.startswith(kinds):
            raise UpstreamFailure(FailureKind.MALFORMED, f"expected {what}, got {content_type!r}")

    # -- speech ---------------------------------------------------------------------------------------

    async def speech(self, call: SpeechCall) -> AudioStream:
        request = self._http_request(self.translator.speech_request(call))
        events = _SpeechEvents(self.translator)
        async with self._answer(request) as response:
            chunks: AsyncIterator[bytes] = guarded(response.aiter_raw(), self.provider)
            if call.usage_stream:
                self._expect(response, _EVENT_STREAM, "an event stream")
                chunks = events.audio(chunks)
            else:
                self._expect(response, self.translator.AUDIO_CONTENT_TYPES, "audio")
            first = await anext(chunks, b"")
            if not first:
                raise UpstreamFailure(FailureKind.MALFORMED, "the provider sent no audio")
        stream = AudioStream(speech_content_type(call.response_format), first, chunks, response.aclose)
        if call.usage_stream:
            events.report_to(stream)
        return stream

    # -- transcription --------------------------------------------------------------------------------

    async def transcribe(self, call: TranscriptionCall) -> TranscriptionResult:
        request = self._http_request(self.translator.transcription_request(call))
        async with self._answer(request) as response:
            try:
                body = await read_bounded(response, MAX_RESULT_BODY)
            finally:
                await response.aclose()
        try:
            return self.translator.transcription_result(call, response.headers.get("content-type", ""), body)
        except (Malformed, msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError, KeyError) as exc:
            raise UpstreamFailure(FailureKind.MALFORMED, f"unreadable transcription response ({exc})") from None

    async def transcribe_stream(self, call: TranscriptionCall) -> TranscriptStream:
        """The provider's transcript events, handed over once the first one has arrived in time."""
        request = self._http_request(self.translator.transcription_request(call))
        async with self._answer(request) as response:
            self._expect(response, _EVENT_STREAM, "an event stream")
            events = self._transcript_events(guarded(response.aiter_raw(), self.provider))
            first = await anext(events, None)
            if first is None:
                raise UpstreamFailure(FailureKind.MALFORMED, "the provider sent no transcript event")
        return TranscriptStream(first, events, response.aclose)

    async def _transcript_events(self, raw: AsyncIterator[bytes]) -> AsyncIterator[TranscriptEvent]:
        parser = SseParser()
        async for chunk in raw:
            for data in parser.feed(chunk):
                if (event := self._transcript_event(data)) is not None:
                    yield event
        for data in parser.close():
            if (event := self._transcript_event(data)) is not None:
                yield event

    def _transcript_event(self, data: bytes) -> TranscriptEvent | None:
        if data.strip() == b"[DONE]":
            return None
        try:
            return self.translator.transcription_event(data)
        except StreamError as exc:
            message = safe_message(500, exc.error.message, self.provider.api_key)
            raise UpstreamFailure(FailureKind.MALFORMED, f"the provider reported an error mid-stream: {message}",
                                  code=exc.error.code, error_type=exc.error.type) from None
        except (Malformed, msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError, KeyError) as exc:
            raise UpstreamFailure(FailureKind.MALFORMED, f"unreadable transcript event ({exc})") from None


class _SpeechEvents:
    """Unwraps a speech event stream into audio bytes, keeping the usage report for the stream."""

    def __init__(self, translator: Translator):
        self._translator = translator
        self._stream: AudioStream | None = None
        self._usage: Any = None

    def report_to(self, stream: AudioStream) -> None:
        self._stream = stream
        stream.usage = self._usage  # a short answer may have finished inside the first chunk

    def _keep(self, usage: Any) -> None:
        self._usage = usage
        if self._stream is not None:
            self._stream.usage = usage

    async def audio(self, raw: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        parser = SseParser()
        async for chunk in raw:
            for data in parser.feed(chunk):
                audio = self._read(data)
                if audio:
                    yield audio
        for data in parser.close():
            audio = self._read(data)
            if audio:
                yield audio

    def _read(self, data: bytes) -> bytes:
        if data.strip() == b"[DONE]":
            return b""
        try:
            event = self._translator.speech_event(data)
        except (Malformed, msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            raise UpstreamFailure(FailureKind.MALFORMED, f"unreadable speech event ({exc})") from None
        if isinstance(event, AudioDelta):
            return event.audio
        if isinstance(event, AudioDone):
            self._keep(event.usage)
        return b""
