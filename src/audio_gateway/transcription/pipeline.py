"""The one transcription pipeline: probe → call (with fallback) → charge → render.

The sync endpoints and the job runner both call `transcribe_upload` and `render_outcome`, so a job's
transcript of an upload is byte-identical to the sync endpoint's for every format and granularity.
`stream_upload` is the same pipeline for `stream: true`, ending in a transcript event stream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import IO

import anyio.to_thread

from ..audio import (
    EVENT_STREAM_CONTENT_TYPE,
    AudioInfo,
    Rendered,
    UnreadableAudio,
    probe_audio,
    render_transcript,
    render_transcript_events,
)
from ..billing import RequestFacts
from ..catalog import Route, Target
from ..errors import InvalidRequest
from ..gateway import Gateway, TranscriptionOutcome, TranscriptStreamOutcome
from ..providers import TranscriptionCall
from ..routing import Decision
from .report import usage_report
from .request import TranscriptionRequest, check_duration, transcription_call_for, validate_transcription
from .upload import Upload

BeforeCall = Callable[[RequestFacts], Awaitable[None]]

__all__ = ["probe_upload", "transcribe_upload", "stream_upload", "render_outcome", "audio_seconds"]


async def probe_upload(file: IO[bytes]) -> AudioInfo:
    """The upload's format and duration, off the event loop; unreadable audio is a 400 naming `file`."""
    try:
        return await anyio.to_thread.run_sync(probe_audio, file)
    except UnreadableAudio as exc:
        raise InvalidRequest(f"The file is not readable audio ({exc.reason}). Supported formats: flac, m4a, mp3, "
                             "mp4, mpeg, mpga, oga, ogg, wav, webm.", param="file", code="invalid_file_format") from None


def audio_seconds(info: AudioInfo) -> Decimal:
    """The probed length as billing sees it: whole milliseconds (the probe's float noise is not audio)."""
    return Decimal(str(round(info.duration, 3)))


async def _prepared(route: Route, form: TranscriptionRequest, upload: Upload
                    ) -> tuple[AudioInfo, RequestFacts, Callable[[Target], TranscriptionCall]]:
    """Validate for the named model, probe, check what the audio's length demands; per-target calls."""
    validate_transcription(form, route, upload)
    assert upload.file is not None
    info = await probe_upload(upload.file)
    check_duration(info, route, form)
    facts = RequestFacts(kind="stt", prompt=form.prompt or "", audio_seconds=audio_seconds(info))

    def prepare(target: Target) -> TranscriptionCall:
        return transcription_call_for(form, target, upload, info)

    return info, facts, prepare


def _decide(gateway: Gateway, route: Route, form: TranscriptionRequest, facts: RequestFacts,
            prepare: Callable[[Target], TranscriptionCall], request_id: str,
            on_route: Callable[[str], None] | None) -> Decision:
    """Route (after probing: rules may read the duration); `on_route` hears why, before any call."""
    decision = gateway.decide_transcription(route, prepare, facts, language=form.language,
                                            response_format=form.response_format, request_id=request_id)
    if on_route is not None:
        on_route(decision.reason)
    return decision


async def transcribe_upload(gateway: Gateway, route: Route, form: TranscriptionRequest, upload: Upload, *,
                            request_id: str = "", on_route: Callable[[str], None] | None = None,
                            before_call: BeforeCall | None = None) -> tuple[TranscriptionOutcome, AudioInfo]:
    """Validate for the named model, probe, route, and serve. `before_call` hears the request's facts once
    the upload is probed, before any provider is called (a key's budget and rate limits: api/admission.py)."""
    info, facts, prepare = await _prepared(route, form, upload)
    if before_call is not None:
        await before_call(facts)
    decision = _decide(gateway, route, form, facts, prepare, request_id, on_route)
    return await gateway.transcribe(route, prepare, facts, decision=decision), info


async def stream_upload(gateway: Gateway, route: Route, form: TranscriptionRequest, upload: Upload, *,
                        request_id: str = "", on_route: Callable[[str], None] | None = None,
                        before_call: BeforeCall | None = None) -> tuple[TranscriptStreamOutcome, AudioInfo]:
    """As `transcribe_upload`, for `stream: true`: committed once a target's first event is in hand."""
    info, facts, prepare = await _prepared(route, form, upload)
    if before_call is not None:
        await before_call(facts)
    decision = _decide(gateway, route, form, facts, prepare, request_id, on_route)
    return await gateway.transcribe_stream(route, prepare, facts, decision=decision), info


def render_outcome(outcome: TranscriptionOutcome, form: TranscriptionRequest) -> Rendered:
    """The body the client asked for. Translations carry no usage (OpenAI's translation schemas have none);
    a transcription's `usage` has the served model's shape (tokens, or billed seconds)."""
    usage = (usage_report(outcome.target.model, outcome.usage, outcome.billed_seconds)
             if form.task == "transcribe" else None)
    if form.stream:
        return Rendered(render_transcript_events(outcome.transcript, usage=usage, include_logprobs=form.logprobs),
                        EVENT_STREAM_CONTENT_TYPE)
    return render_transcript(
        outcome.transcript, form.response_format, usage_seconds=None, usage=usage,
        include_words="word" in form.timestamp_granularities,
        include_segments=not form.timestamp_granularities or "segment" in form.timestamp_granularities,
        include_logprobs=form.logprobs,
    )
