"""A transcript that arrives as events (`stream: true`), whoever made them.

The provider-neutral events are a text delta, a diarized segment and the final done (text, token
log probabilities, the usage the provider reported). A `TranscriptStream` holds its first event
before routing commits to a target, exactly as `AudioStream` holds its first audio chunk, so a
provider that fails before its first event is still invisible to the client. A provider that does
not stream is served through `TranscriptStream.of_transcript`: the finished transcript cut into the
same events, its usage known before the first one is sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec

from ..audio.transcript import Logprob, SpeakerSegment, Transcript
from ..audio.transcript_events import transcript_deltas
from ..billing.usage import Usage
from .failures import FailureKind, UpstreamFailure

__all__ = ["TranscriptDelta", "TranscriptSegment", "TranscriptDone", "TranscriptEvent", "TranscriptStream"]


class TranscriptDelta(msgspec.Struct, frozen=True):
    text: str
    logprobs: tuple[Logprob, ...] | None = None
    segment_id: str | None = None      # the diarized segment this text belongs to


class TranscriptSegment(msgspec.Struct, frozen=True):
    segment: SpeakerSegment


class TranscriptDone(msgspec.Struct, frozen=True):
    text: str
    logprobs: tuple[Logprob, ...] | None = None
    usage: Usage = Usage()             # what the provider reported (empty when it reports nothing)


TranscriptEvent = TranscriptDelta | TranscriptSegment | TranscriptDone


async def _nothing() -> None:
    return None


async def _events(events: list[TranscriptEvent]) -> AsyncIterator[TranscriptEvent]:
    for event in events:
        yield event


class TranscriptStream:
    """Transcript events whose first one has already arrived; iterate to get all of them, `done` last.

    `upstream`: the provider streams them (its usage comes with `done`, at the end); False for a stream
    the gateway made from a finished transcript (its usage is known from the start). `usage` holds the
    report once known. A provider stream that ends without its `done` event, or breaks off, raises
    `UpstreamFailure` from the iteration."""

    def __init__(self, first: TranscriptEvent, rest: AsyncIterator[TranscriptEvent],
                 close: Callable[[], Awaitable[None]], *, upstream: bool = True, usage: Usage | None = None):
        self.first_event = first
        self._rest = rest
        self._close = close
        self.upstream = upstream
        self.usage = usage
        self.done: TranscriptDone | None = None
        self.events = 0
        self.completed = False   # the done event arrived
        self.ended = False       # over, however: completed, cut by the provider, or abandoned by the client

    @classmethod
    def of_transcript(cls, transcript: Transcript, usage: Usage) -> TranscriptStream:
        """A finished transcript as a stream: its deltas, its speaker segments, then done."""
        events: list[TranscriptEvent] = [TranscriptDelta(text) for text in transcript_deltas(transcript)]
        events += [TranscriptSegment(segment) for segment in transcript.speakers or ()]
        events.append(TranscriptDone(transcript.text, transcript.logprobs, usage))
        return cls(events[0], _events(events[1:]), _nothing, upstream=False, usage=usage)

    def _seen(self, event: TranscriptEvent) -> None:
        self.events += 1
        if isinstance(event, TranscriptDone):
            self.done = event
            self.usage = event.usage
            self.completed = True

    async def __aiter__(self) -> AsyncIterator[TranscriptEvent]:
        try:
            self._seen(self.first_event)
            yield self.first_event
            if self.completed:
                return
            async for event in self._rest:
                self._seen(event)
                yield event
                if self.completed:
                    return
            raise UpstreamFailure(FailureKind.MALFORMED, "the transcript stream ended before transcript.text.done")
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if not self.ended:
            self.ended = True
            await self._close()
