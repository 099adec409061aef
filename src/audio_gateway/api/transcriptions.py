"""`POST /v1/audio/transcriptions` and `/v1/audio/translations`: one shape whoever served.

Upload streamed to a spooled file → form checked → audio probed (400 if unreadable)
→ fallback chain → transcript rendered by the gateway in the asked format.
"""

from __future__ import annotations

import anyio.to_thread
from litestar import Request, Response, post

from ..audio import EVENT_STREAM_CONTENT_TYPE, UnreadableAudio, probe_audio, render_transcript, render_transcript_events
from ..errors import InvalidRequest
from ..gateway import Gateway
from ..transcription import (
    UploadLimits, check_duration, parse_transcription_form, read_multipart, transcription_call_for,
    validate_transcription,
)
from .billing_headers import gateway_headers, log_fields
from .openapi import TranscriptionOperation, TranslationOperation

__all__ = ["create_transcription", "create_translation"]


def upload_limits(gateway: Gateway) -> UploadLimits:
    return UploadLimits(max_file_bytes=gateway.max_upload_bytes)


async def _serve(request: Request, task: str) -> Response:
    gateway: Gateway = request.app.state.gateway
    log = request.scope["state"]["log"]
    upload = await read_multipart(request.headers.get("content-type", ""), request.stream(), upload_limits(gateway))
    try:
        form = parse_transcription_form(upload, task)
        log["model_asked"] = form.model
        route = gateway.route(form.model)
        validate_transcription(form, route, upload)
        try:
            info = await anyio.to_thread.run_sync(probe_audio, upload.file)
        except UnreadableAudio as exc:
            raise InvalidRequest(f"The file is not readable audio ({exc.reason}). Supported formats: flac, m4a, mp3, "
                                 "mp4, mpeg, mpga, oga, ogg, wav, webm.", param="file", code="invalid_file_format") from None
        check_duration(info, route)
        log["audio_seconds"] = round(info.duration, 3)
        outcome = await gateway.transcribe(
            route, lambda target: transcription_call_for(form, target, upload, info), info.duration)
    finally:
        upload.close()
    log.update(log_fields(outcome.target, outcome.attempts, outcome.charge))
    headers = gateway_headers(outcome.target, outcome.attempts, outcome.charge)
    if form.stream:
        body = render_transcript_events(outcome.transcript, outcome.billed_seconds)
        return Response(body, media_type=EVENT_STREAM_CONTENT_TYPE, headers=headers)
    rendered = render_transcript(
        outcome.transcript, form.response_format,
        usage_seconds=outcome.billed_seconds if task == "transcribe" else None,
        include_words="word" in form.timestamp_granularities,
        include_segments=not form.timestamp_granularities or "segment" in form.timestamp_granularities,
    )
    return Response(rendered.body, media_type=rendered.content_type, headers=headers)


@post("/audio/transcriptions", status_code=200, request_max_body_size=None, operation_class=TranscriptionOperation)
async def create_transcription(request: Request) -> Response:
    return await _serve(request, "transcribe")


@post("/audio/translations", status_code=200, request_max_body_size=None, operation_class=TranslationOperation)
async def create_translation(request: Request) -> Response:
    return await _serve(request, "translate")
