"""What every provider adapter takes and returns, and how it fails.

An adapter is bound to one provider's `Upstream` (its pooled transport, URL, key, timeouts).
It translates the gateway's neutral calls into the provider's wire format and
maps the provider's own error bodies onto `UpstreamFailure`; routing decides
what a failure means (fall back or not), never the adapter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import IO, Any, Literal, Protocol

import msgspec

from ..audio.transcript import Transcript

__all__ = [
    "SpeechCall", "TranscriptionCall", "AudioStream", "UpstreamFailure", "FailureKind", "Adapter",
]

# busy: no connection to the provider was free within connect_seconds (our own bound, not the provider's fault)
FailureKind = Literal["connect", "timeout", "status", "malformed", "busy"]


class SpeechCall(msgspec.Struct, frozen=True, kw_only=True):
    """A speech request already re-mapped for one target (upstream model, native voice)."""

    upstream_model: str
    input: str
    voice: str | dict[str, str]
    response_format: str
    speed: float | None = None
    instructions: str | None = None
    stream_format: str = "audio"


class TranscriptionCall(msgspec.Struct, frozen=True, kw_only=True):
    """A transcription/translation request for one target. `file` is rewound before each attempt."""

    upstream_model: str
    task: Literal["transcribe", "translate"]
    file: IO[bytes]
    filename: str
    content_type: str
    duration: float
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    timestamp_granularities: tuple[str, ...] = ()
    upstream_response_format: str = "json"


class UpstreamFailure(Exception):
    """One attempt at one provider failed. `status` is the upstream HTTP status when there was one."""

    def __init__(self, kind: FailureKind, message: str, *, status: int | None = None,
                 retry_after: float | None = None, param: str | None = None, code: str | None = None,
                 error_type: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.param = param
        self.code = code
        self.error_type = error_type

    def describe(self) -> str:
        return f"HTTP {self.status}: {self.message}" if self.status else f"{self.kind}: {self.message}"


class AudioStream:
    """An upstream audio response whose first chunk has already arrived.

    Routing commits to a target only once `first_chunk` is in hand, so a provider
    that fails before its first byte is still invisible to the client.
    """

    def __init__(self, content_type: str, first_chunk: bytes, rest: AsyncIterator[bytes],
                 close: Callable[[], Awaitable[None]]):
        self.content_type = content_type
        self.first_chunk = first_chunk
        self._rest = rest
        self._close = close
        self.usage: dict[str, Any] | None = None   # set by adapters that see usage in the stream (SSE)
        self.bytes_sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            if self.first_chunk:
                self.bytes_sent += len(self.first_chunk)
                yield self.first_chunk
            async for chunk in self._rest:
                self.bytes_sent += len(chunk)
                yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        await self._close()

    async def read_all(self) -> bytes:
        """For jobs: the whole audio in memory (pieces are provider-sized)."""
        return b"".join([chunk async for chunk in self])


class Adapter(Protocol):
    """One provider's wire format. Implementations: `openai.OpenAIAdapter`, `siliconflow.SiliconFlowAdapter`."""

    async def speech(self, call: SpeechCall) -> AudioStream: ...

    async def transcribe(self, call: TranscriptionCall) -> Transcript: ...
