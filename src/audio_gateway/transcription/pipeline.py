"""The one transcription pipeline: probe → call (with fallback) → charge → render.

The sync endpoints and the job runner both call `transcribe_upload` and `render_outcome`, so a job's
transcript of an upload is byte-identical to the sync endpoint's for every format and granularity.
"""

from __future__ import annotations

from collections.abc import Callable
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
from ..gateway import Gateway, TranscriptionOutcome
from ..providers import TranscriptionCall
from .request import TranscriptionRequest, check_duration, transcription_call_for, validate_transcription
from .upload import Upload

__all__ = ["probe_upload", "transcribe_upload", "render_outcome", "audio_seconds"]


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


async def transcribe_upload(gateway: Gateway, route: Route, form: TranscriptionRequest, upload: Upload, *,
                            request_id: str = "", on_route: Callable[[str], None] | None = None,
                            ) -> tuple[TranscriptionOutcome, AudioInfo]:
    """Validate for the named model, probe, route (`on_route` hears why, before any call), and serve."""
    validate_transcription(form, route, upload)
    assert upload.file is not None
    info = await probe_upload(upload.file)
    check_duration(info, route)
    facts = RequestFacts(kind="stt", prompt=form.prompt or "", audio_seconds=audio_seconds(info))

    def prepare(target: Target) -> TranscriptionCall:
        return transcription_call_for(form, target, upload, info)

    decision = gateway.decide_transcription(route, prepare, facts, language=form.language,
                                            response_format=form.response_format, request_id=request_id)
    if on_route is not None:
        on_route(decision.reason)
    outcome = await gateway.transcribe(route, prepare, facts, decision=decision)
    return outcome, info


def render_outcome(outcome: TranscriptionOutcome, form: TranscriptionRequest) -> Rendered:
    """The body the client asked for. Translations carry no usage (OpenAI's translation schemas have none)."""
    usage_seconds = outcome.billed_seconds if form.task == "transcribe" else None
    if form.stream:
        return Rendered(render_transcript_events(outcome.transcript, usage_seconds), EVENT_STREAM_CONTENT_TYPE)
    return render_transcript(
        outcome.transcript, form.response_format, usage_seconds=usage_seconds,
        include_words="word" in form.timestamp_granularities,
        include_segments=not form.timestamp_granularities or "segment" in form.timestamp_granularities,
    )
