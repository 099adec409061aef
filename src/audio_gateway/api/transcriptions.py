"""`POST /v1/audio/transcriptions` and `/v1/audio/translations`: one shape whoever served.

Upload streamed to a spooled file → form checked → the shared pipeline (probe, fallback chain, charge)
→ transcript rendered by the gateway in the asked format → one ledger row.

`stream: true` answers `text/event-stream` with OpenAI's transcript events, framed here whichever
target served (a provider's own events re-framed one by one, or a finished transcript cut into them):
`transcript.text.delta`..., `transcript.text.segment` for `diarized_json`, then `transcript.text.done`
with the settled `usage` and the gateway's `cost_usd`, then `[DONE]`. A provider that breaks off after
the first event cannot be hidden any more: the stream ends with an `error` event (the OpenAI SDK
raises it) and the ledger row says `upstream_cut`. The row is written when the stream ends.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Literal

from litestar import Request, Response, post
from litestar.response import Stream

from ..audio import DIARIZED_JSON, sse_delta, sse_done, sse_error, sse_segment
from ..billing import RequestFacts, decimal_text
from ..errors import UpstreamClientError, UpstreamUnavailable
from ..gateway import Gateway, TranscriptStreamOutcome, billed_seconds
from ..generations import LiveGateway
from ..ledger.build import RowContext, failed_row, served_row
from ..limits import Dimension
from ..providers import TranscriptDone, TranscriptEvent, TranscriptSegment, UpstreamFailure
from ..transcription import TranscriptionRequest, UploadLimits, parse_transcription_form, read_multipart
from ..transcription.pipeline import render_outcome, stream_upload, transcribe_upload
from ..transcription.report import usage_report
from .admission import admit, check_model
from .billing_headers import gateway_headers, log_fields
from .books import record_row, row_context
from .openapi import TranscriptionOperation, TranslationOperation
from .pinning import gateway_of
from .stream_books import StreamTally

__all__ = ["create_transcription", "create_translation", "upload_limits"]

_EVENT_STREAM = "text/event-stream"  # Litestar adds `; charset=utf-8` to text/* media types


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
        check_model(request, route)   # before the upload is probed

        async def before_call(facts: RequestFacts) -> None:
            await admit(request, route, facts_for=lambda _target: facts,
                        units={Dimension.AUDIO_SECONDS: float(facts.audio_seconds)})

        def context() -> RowContext:  # built once routed: the row carries state["route"]
            return row_context(request, endpoint="audio.translations" if task == "translate" else "audio.transcriptions",
                               kind="stt", model_requested=form.model, bytes_in=upload.file_bytes)

        try:
            on_route = lambda reason: state.__setitem__("route", reason)  # noqa: E731
            if form.stream:
                streamed, info = await stream_upload(gateway, route, form, upload, request_id=state["request_id"],
                                                     on_route=on_route, before_call=before_call)
            else:
                outcome, info = await transcribe_upload(gateway, route, form, upload, request_id=state["request_id"],
                                                        on_route=on_route, before_call=before_call)
        except (UpstreamUnavailable, UpstreamClientError) as exc:
            record_row(request, failed_row(context(), attempts=exc.tried, http_status=exc.status,
                                           latency_ms=(time.perf_counter() - started) * 1000))
            raise
        ctx = context()
    finally:
        upload.close()  # a stream's first event is in hand: a gateway-made stream has the whole transcript
    log["audio_seconds"] = round(info.duration, 3)
    if form.stream:
        charge = streamed.charge()
        log.update(log_fields(streamed.target, streamed.attempts, charge))
        return Stream(_relay(request, streamed, form, ctx), media_type=_EVENT_STREAM,
                      headers=gateway_headers(streamed.target, streamed.attempts, charge))
    log.update(log_fields(outcome.target, outcome.attempts, outcome.charge))
    rendered = render_outcome(outcome, form)
    record_row(request, served_row(
        ctx, target=outcome.target, attempts=outcome.attempts, charge=outcome.charge, usage=outcome.usage,
        facts=outcome.facts,
        status="completed", http_status=200, latency_ms=(time.perf_counter() - started) * 1000,
        ttfb_ms=(time.perf_counter() - started) * 1000, bytes_out=len(rendered.body)))
    headers = gateway_headers(outcome.target, outcome.attempts, outcome.charge)
    return Response(rendered.body, media_type=rendered.content_type, headers=headers)


def _frame(event: TranscriptEvent, outcome: TranscriptStreamOutcome, form: TranscriptionRequest) -> bytes:
    """One event as the client receives it; b"" for what it did not ask for."""
    if isinstance(event, TranscriptDone):
        charge = outcome.charge()  # settled: the done event carries the provider's report
        usage = usage_report(outcome.target.model, outcome.usage(), billed_seconds(charge, outcome.facts))
        return sse_done(event.text, logprobs=event.logprobs if form.logprobs else None, usage=usage,
                        cost_usd=decimal_text(charge.total_usd))
    if isinstance(event, TranscriptSegment):  # OpenAI sends segment events only for diarized_json
        return sse_segment(event.segment) if form.response_format == DIARIZED_JSON else b""
    return sse_delta(event.text, logprobs=event.logprobs if form.logprobs else None, segment_id=event.segment_id)


async def _relay(request: Request, outcome: TranscriptStreamOutcome, form: TranscriptionRequest,
                 ctx: RowContext) -> AsyncIterator[bytes]:
    """Frame events as they come; the settled cost goes to the done event, the ledger and the log line.
    A provider that breaks off mid-stream ends the stream with an SSE error event (the status is sent)."""
    tally = StreamTally(request, ctx)
    try:
        try:
            async for event in outcome.stream:
                body = _frame(event, outcome, form)
                if not body:
                    continue
                if isinstance(event, TranscriptDone):
                    tally.status = "completed"
                yield tally.sending(body)
        except UpstreamFailure as failure:
            tally.status = "upstream_cut"
            tally.log["stream_error"] = failure.describe()
            yield tally.sending(sse_error(f"The provider broke off the transcript stream ({failure.describe()}).",
                                          type_="upstream_error", code="upstream_cut"))
    finally:
        await outcome.stream.aclose()
        tally.book(target=outcome.target, attempts=outcome.attempts, charge=outcome.charge(), usage=outcome.usage(),
                   facts=outcome.facts,
                   upstream_usage=outcome.stream.usage if outcome.stream.upstream else None)


@post("/audio/transcriptions", status_code=200, request_max_body_size=None, operation_class=TranscriptionOperation)
async def create_transcription(request: Request) -> Response:
    return await _serve(request, "transcribe")


@post("/audio/translations", status_code=200, request_max_body_size=None, operation_class=TranslationOperation)
async def create_translation(request: Request) -> Response:
    return await _serve(request, "translate")
