"""The `stream: true` transcription events, encoded the way OpenAI sends them.

One encoder per event of `CreateTranscriptionResponseStreamEvent` (`transcript.text.delta`,
`transcript.text.segment`, `transcript.text.done`) plus the error event a stream ends with when the
provider breaks off after the first event. The gateway frames every stream with these, whether the
provider streamed (events re-framed one by one) or not (the transcript cut into deltas here), so a
client reads the same events whichever model served. Each call returns one complete SSE event.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from .transcript import Logprob, SpeakerSegment, Transcript, clean_text
from .usage_report import UsageReport

__all__ = ["sse_delta", "sse_segment", "sse_done", "sse_error", "transcript_deltas", "DONE_SENTINEL"]

DONE_SENTINEL = b"data: [DONE]\n\n"


# Field order is OpenAI's; UNSET fields are left out, as OpenAI leaves out what it was not asked for.
class _Delta(msgspec.Struct, tag_field="type", tag="transcript.text.delta"):
    delta: str
    logprobs: tuple[Logprob, ...] | msgspec.UnsetType = msgspec.UNSET
    segment_id: str | msgspec.UnsetType = msgspec.UNSET


class _Segment(msgspec.Struct, tag_field="type", tag="transcript.text.segment"):
    id: str
    start: float
    end: float
    text: str
    speaker: str


class _Done(msgspec.Struct, tag_field="type", tag="transcript.text.done"):
    text: str
    logprobs: tuple[Logprob, ...] | msgspec.UnsetType = msgspec.UNSET
    usage: UsageReport | msgspec.UnsetType = msgspec.UNSET
    cost_usd: str | msgspec.UnsetType = msgspec.UNSET   # the gateway's settled cost, as in speech.audio.done


class _ErrorDetail(msgspec.Struct):
    message: str
    type: str
    param: str | None
    code: str | None


class _Error(msgspec.Struct, tag_field="type", tag="error"):
    error: _ErrorDetail


_encode = msgspec.json.Encoder().encode


def _sse(event: msgspec.Struct) -> bytes:
    return b"data: " + _encode(event) + b"\n\n"


def sse_delta(delta: str, *, logprobs: Sequence[Logprob] | None = None, segment_id: str | None = None) -> bytes:
    event = _Delta(delta=clean_text(delta))
    if logprobs is not None:
        event.logprobs = tuple(logprobs)
    if segment_id is not None:
        event.segment_id = segment_id
    return _sse(event)


def sse_segment(segment: SpeakerSegment) -> bytes:
    return _sse(_Segment(id=segment.id, start=segment.start, end=segment.end, text=clean_text(segment.text),
                         speaker=segment.speaker))


def sse_done(text: str, *, logprobs: Sequence[Logprob] | None = None, usage: UsageReport | None = None,
             cost_usd: str | None = None, sentinel: bool = True) -> bytes:
    """`transcript.text.done`, then OpenAI's `data: [DONE]` unless `sentinel` is False."""
    event = _Done(text=clean_text(text))
    if logprobs is not None:
        event.logprobs = tuple(logprobs)
    if usage is not None:
        event.usage = usage
    if cost_usd is not None:
        event.cost_usd = cost_usd
    return _sse(event) + (DONE_SENTINEL if sentinel else b"")


def sse_error(message: str, *, type_: str, code: str | None, param: str | None = None) -> bytes:
    """The last event of a stream the provider broke off: `{"type": "error", "error": {message, type, param,
    code}}`. The OpenAI SDK raises `APIError` on any event carrying `error`, so the client's loop ends."""
    return _sse(_Error(error=_ErrorDetail(message=message, type=type_, param=param, code=code)))


def transcript_deltas(t: Transcript) -> list[str]:
    """A finished transcript as deltas: its segments when they add up to the text, else the whole text.

    Concatenating the deltas always gives exactly the (cleaned) text, as with OpenAI's own stream."""
    text = clean_text(t.text)
    if not text:
        return []
    parts = [clean_text(s.text) for s in t.segments if s.text]
    if parts:
        parts[0] = parts[0].lstrip() if not text[:1].isspace() else parts[0]
        if "".join(parts) == text:
            return parts
    return [text]
