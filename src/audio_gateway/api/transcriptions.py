"""`POST /v1/audio/transcriptions` and `/v1/audio/translations`: one shape whoever served.

Upload streamed to a spooled file → form checked → the shared pipeline (probe, fallback chain, charge)
→ transcript rendered by the gateway in the asked format → one ledger row.
"""

from __future__ import annotations

import time
from typing import Literal

from litestar import Request, Response, post

from ..errors import UpstreamClientError, UpstreamUnavailable
from ..gateway import Gateway
from ..generations import LiveGateway
from ..ledger.build import failed_row, served_row
from ..transcription import UploadLimits, parse_transcription_form, read_multipart
from ..transcription.pipeline import render_outcome, transcribe_upload
from .billing_headers import gateway_headers, log_fields
from .books import record_row, row_context
from .openapi import TranscriptionOperation, TranslationOperation
from .pinning import gateway_of

__all__ = ["create_transcription", "create_translation", "upload_limits"]


def upload_limits(gateway: Gateway | LiveGateway) -> UploadLimits:
    return UploadLimits(max_file_bytes=gateway.max_upload_bytes)


async def _serve(request: Request, task: Literal["transcribe", "translate"]) -> Response:
    gateway: Gateway = gateway_of(request)
    state = request.scope["state"]
    log = state["log"]
    started = state.get("started_perf", time.perf_counter())
    upload = await read_multipart(request.headers.get("content-type", ""), request.stream(), upload_limits(gateway))
    try:
        form = parse_transcription_form(upload, task)
        log["model_asked"] = form.model
        route = gateway.route(form.model)
        ctx = row_context(request, endpoint="audio.translations" if task == "translate" else "audio.transcriptions",
                          kind="stt", model_requested=form.model, bytes_in=upload.file_bytes)
        try:
            outcome, info = await transcribe_upload(gateway, route, form, upload)
        except (UpstreamUnavailable, UpstreamClientError) as exc:
            record_row(request, failed_row(ctx, attempts=exc.tried, http_status=exc.status,
                                           latency_ms=(time.perf_counter() - started) * 1000))
            raise
    finally:
        upload.close()
    log["audio_seconds"] = round(info.duration, 3)
    log.update(log_fields(outcome.target, outcome.attempts, outcome.charge))
    rendered = render_outcome(outcome, form)
    record_row(request, served_row(
        ctx, target=outcome.target, attempts=outcome.attempts, charge=outcome.charge, usage=outcome.usage,
        facts=outcome.facts,
        status="completed", http_status=200, latency_ms=(time.perf_counter() - started) * 1000,
        ttfb_ms=(time.perf_counter() - started) * 1000, bytes_out=len(rendered.body)))
    headers = gateway_headers(outcome.target, outcome.attempts, outcome.charge)
    return Response(rendered.body, media_type=rendered.content_type, headers=headers)


@post("/audio/transcriptions", status_code=200, request_max_body_size=None, operation_class=TranscriptionOperation)
async def create_transcription(request: Request) -> Response:
    return await _serve(request, "transcribe")


@post("/audio/translations", status_code=200, request_max_body_size=None, operation_class=TranslationOperation)
async def create_translation(request: Request) -> Response:
    return await _serve(request, "translate")
