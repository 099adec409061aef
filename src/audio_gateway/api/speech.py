"""`POST /v1/audio/speech`: validate, route with fallback, stream the audio as it arrives, keep the books.

Adapters always deliver plain audio; this handler frames it as the client asked: raw bytes, or
OpenAI's SSE (`speech.audio.delta` events, then `speech.audio.done` with the usage and the settled
`cost_usd`), whichever provider served. The ledger row is written when the stream ends, with status
`completed`, `client_disconnected` or `upstream_cut`.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator

import msgspec
from litestar import Request, post
from litestar.types import ASGIApp

from ..billing import RequestFacts, Unit, Usage, decimal_text
from ..errors import UpstreamClientError, UpstreamUnavailable
from ..gateway import Gateway, SpeechOutcome, speech_facts
from ..ledger.build import RowContext, failed_row
from ..limits import Dimension
from ..providers import UpstreamFailure
from ..speech import SpeechRequest, validate_speech
from .admission import admit
from .billing_headers import gateway_headers, log_fields
from .books import record_row, row_context
from .errors import decode_json_request
from .openapi import SpeechOperation
from .pinning import gateway_of
from .stream_books import StreamTally
from .streamed import StreamedBody

__all__ = ["create_speech"]

_EVENT_STREAM = "text/event-stream"


class _DoneUsage(msgspec.Struct):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class _Done(msgspec.Struct, tag_field="type", tag="speech.audio.done"):
    usage: _DoneUsage
    cost_usd: str


def _delta(chunk: bytes) -> bytes:
    return b'data: {"type":"speech.audio.delta","audio":"' + base64.b64encode(chunk) + b'"}\n\n'


def _done(usage: Usage, cost: str) -> bytes:
    tokens_in = int(usage.get(Unit.INPUT_TOKEN) or 0)
    tokens_out = int(usage.get(Unit.OUTPUT_TOKEN) or 0)
    event = _Done(usage=_DoneUsage(tokens_in, tokens_out, tokens_in + tokens_out), cost_usd=cost)
    return b"data: " + msgspec.json.encode(event) + b"\n\ndata: [DONE]\n\n"


async def _relay(request: Request, outcome: SpeechOutcome, ctx: RowContext, *, sse: bool) -> AsyncIterator[bytes]:
    """Forward chunks as they come; the settled cost goes to the done event, the ledger and the log line.

    A provider that breaks off mid-stream cannot be hidden any more (the status is sent): the failure
    propagates so the client's connection is cut short, and the row and log line say why."""
    tally = StreamTally(request, ctx)
    try:
        async for chunk in outcome.stream:
            yield tally.sending(_delta(chunk) if sse else chunk)
        tally.status = "completed"
        if sse:
            yield tally.sending(_done(outcome.usage(), decimal_text(outcome.charge().total_usd)))
    except UpstreamFailure as failure:
        tally.status = "upstream_cut"
        tally.log["stream_error"] = failure.describe()
        raise
    finally:
        await outcome.stream.aclose()
        tally.book(target=outcome.target, attempts=outcome.attempts, charge=outcome.charge(), usage=outcome.usage(),
                   facts=speech_facts(outcome.request, outcome.target), upstream_usage=outcome.stream.usage)


@post("/audio/speech", status_code=200, operation_class=SpeechOperation)
async def create_speech(request: Request) -> ASGIApp:
    raw = await request.body()
    speech = await decode_json_request(raw, SpeechRequest)
    gateway: Gateway = gateway_of(request)
    log = request.scope["state"]["log"]
    log["model_asked"] = speech.model
    route = gateway.route(speech.model)
    validate_speech(speech, route)
    await admit(request, route, facts_for=lambda target: speech_facts(speech, target),
                units={Dimension.CHARACTERS: len(speech.input)})
    state = request.scope["state"]
    decision = gateway.decide_speech(speech, route, request_id=state["request_id"])
    state["route"] = decision.reason  # x-gateway-route (context middleware) and the row, via row_context
    ctx = row_context(request, endpoint="audio.speech", kind="tts", model_requested=speech.model, bytes_in=len(raw))
    try:
        outcome = await gateway.speech(speech, route, decision=decision)
    except (UpstreamUnavailable, UpstreamClientError) as exc:
        started = request.scope["state"].get("started_perf", time.perf_counter())
        record_row(request, failed_row(ctx, attempts=exc.tried, http_status=exc.status,
                                       latency_ms=(time.perf_counter() - started) * 1000,
                                       facts=RequestFacts(kind="tts", text=speech.input)))
        raise
    charge = outcome.charge()
    log.update(log_fields(outcome.target, outcome.attempts, charge))
    headers = gateway_headers(outcome.target, outcome.attempts, charge)
    sse = speech.stream_format == "sse"
    media_type = _EVENT_STREAM if sse else outcome.stream.content_type
    return StreamedBody(_relay(request, outcome, ctx, sse=sse), media_type=media_type, headers=headers)
