"""The contract of an HTTP provider module: pure translation, no I/O.

A translator turns the gateway's typed calls into the provider's requests and the provider's answers
back into typed results; `runner.HttpAdapter` does everything in between (sending, deadlines, status
and content-type checks, bounded bodies, redaction), the way httpx keeps its client apart from its
transports. A new HTTP provider is one module implementing `Translator`, one registry entry, and YAML.

Each method may raise `Malformed` when the provider's answer breaks its own wire format.
"""

from __future__ import annotations

from typing import IO, ClassVar, Protocol

import msgspec

from ..billing.usage import Usage
from .base import SpeechCall, TranscriptEvent, TranscriptionCall, TranscriptionResult

__all__ = ["Translator", "UpstreamRequest", "Multipart", "ProviderError", "AudioDelta", "AudioDone", "Malformed",
           "StreamError"]


class Malformed(Exception):
    """The provider's 2xx answer is not what its wire format promises."""


class Multipart(msgspec.Struct, frozen=True):
    fields: dict[str, str | list[str]]
    file_field: str
    filename: str
    file: IO[bytes]
    content_type: str


class UpstreamRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One request to the provider: a path under its base URL and a JSON or multipart body."""

    path: str
    json: dict[str, object] | None = None
    multipart: Multipart | None = None
    method: str = "POST"


class ProviderError(msgspec.Struct, frozen=True, kw_only=True):
    """A provider's error body, read field by field (the runner redacts `message` before anyone sees it)."""

    message: str
    param: str | None = None
    code: str | None = None
    type: str | None = None


class StreamError(Exception):
    """The provider reported an error inside its event stream (after its 2xx status)."""

    def __init__(self, error: ProviderError):
        super().__init__(error.message)
        self.error = error


class AudioDelta(msgspec.Struct, frozen=True):
    audio: bytes


class AudioDone(msgspec.Struct, frozen=True):
    usage: Usage


class Translator(Protocol):
    """Implemented by providers/openai.py and providers/siliconflow.py (one instance per provider)."""

    # Content types a successful speech answer may carry (plain audio); an event stream is checked apart.
    AUDIO_CONTENT_TYPES: ClassVar[tuple[str, ...]]

    def speech_request(self, call: SpeechCall) -> UpstreamRequest: ...

    def speech_event(self, data: bytes) -> AudioDelta | AudioDone | None:
        """One SSE `data:` payload of a `usage_stream` answer → audio, the final usage, or nothing."""
        ...

    def transcription_request(self, call: TranscriptionCall) -> UpstreamRequest: ...

    def transcription_result(self, call: TranscriptionCall, content_type: str, body: bytes) -> TranscriptionResult: ...

    def transcription_event(self, data: bytes) -> TranscriptEvent | None:
        """One SSE `data:` payload of a `call.stream` answer → a delta, a segment, the done event, or nothing
        (an event type the gateway does not use). Raises `StreamError` for the provider's own error event."""
        ...

    def error(self, status: int, content_type: str, body: bytes) -> ProviderError:
        """Read the provider's own error body (JSON or plain text); never raises."""
        ...
