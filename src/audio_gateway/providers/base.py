"""What every provider adapter takes and returns.

An adapter serves one provider. The gateway hands it a call already re-mapped for one target (upstream
model name, native voice, the options that target honours) and gets back typed results: an audio
stream whose first chunk has arrived, or a transcript, each with the usage the provider reported.
HTTP providers are `runner.HttpAdapter` over a pure `Translator`; the local engines implement the
protocol directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import IO, Literal, Protocol

import msgspec

from ..audio.transcript import Transcript
from ..billing.usage import Usage
from .failures import FailureKind, UpstreamFailure
from .transcript_stream import TranscriptDelta, TranscriptDone, TranscriptEvent, TranscriptSegment, TranscriptStream

__all__ = [
    "SpeechCall", "TranscriptionCall", "TranscriptionResult", "AudioStream", "Adapter", "UpstreamFailure",
    "FailureKind", "ServerVad", "ChunkingStrategy", "TranscriptStream", "TranscriptEvent", "TranscriptDelta",
    "TranscriptSegment", "TranscriptDone",
]


class SpeechCall(msgspec.Struct, frozen=True, kw_only=True):
    """A speech request already re-mapped for one target.

    `response_format` is the audio the client gets; `usage_stream` asks the provider for its event
    stream (SSE) so that it reports usage, which the adapter unwraps back into plain audio."""

    upstream_model: str
    input: str
    voice: str | dict[str, str]
    response_format: str
    speed: float | None = None
    instructions: str | None = None
    usage_stream: bool = False


class ServerVad(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="server_vad", omit_defaults=True):
    """OpenAI's `VadConfig`: server-side voice activity detection with the caller's tuning (unset: OpenAI's)."""

    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    threshold: float | None = None


ChunkingStrategy = Literal["auto"] | ServerVad


class TranscriptionCall(msgspec.Struct, frozen=True, kw_only=True):
    """A transcription/translation request for one target. `file` is rewound before each attempt.

    `stream`: ask the provider for its event stream (`Adapter.transcribe_stream`)."""

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
    include: tuple[str, ...] = ()
    stream: bool = False
    chunking_strategy: ChunkingStrategy | None = None
    known_speaker_names: tuple[str, ...] = ()
    known_speaker_references: tuple[str, ...] = ()


class TranscriptionResult(msgspec.Struct, frozen=True):
    transcript: Transcript
    usage: Usage = Usage()      # what the provider reported (empty when it reports nothing)


class AudioStream:
    """An upstream audio response whose first chunk has already arrived; always plain audio bytes.

    Routing commits to a target only once `first_chunk` is in hand, so a provider that fails before
    its first byte is still invisible to the client. `usage` holds the provider's report once the
    stream has ended (None if it never reported)."""

    def __init__(self, content_type: str, first_chunk: bytes, rest: AsyncIterator[bytes],
                 close: Callable[[], Awaitable[None]]):
        self.content_type = content_type
        self.first_chunk = first_chunk
        self._rest = rest
        self._close = close
        self.usage: Usage | None = None
        self.bytes_sent = 0
        self.completed = False   # the provider sent its whole answer
        self.ended = False       # over, however: completed, cut by the provider, or abandoned by the client

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            if self.first_chunk:
                self.bytes_sent += len(self.first_chunk)
                yield self.first_chunk
            async for chunk in self._rest:
                self.bytes_sent += len(chunk)
                yield chunk
            self.completed = True
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if not self.ended:
            self.ended = True
            await self._close()

    async def read_all(self) -> bytes:
        """For jobs: the whole audio in memory (pieces are provider-sized)."""
        return b"".join([chunk async for chunk in self])


class Adapter(Protocol):
    """One provider's way of serving calls. Raises `UpstreamFailure` for anything that went wrong."""

    async def speech(self, call: SpeechCall) -> AudioStream: ...

    async def transcribe(self, call: TranscriptionCall) -> TranscriptionResult: ...

    async def transcribe_stream(self, call: TranscriptionCall) -> TranscriptStream:
        """The provider's transcript event stream, its first event already in hand (`call.stream` is set)."""
        ...
