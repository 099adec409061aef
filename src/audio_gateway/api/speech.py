"""`POST /v1/audio/speech`: validate, route with fallback, stream the audio as it arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar import Request, post
from litestar.response import Stream

from ..gateway import Gateway, SpeechOutcome
from ..providers import UpstreamFailure
from ..speech import SpeechRequest, validate_speech
from .billing_headers import gateway_headers, log_fields
from .errors import decode_json_request
from .openapi import SpeechOperation

__all__ = ["create_speech"]


async def _relay(outcome: SpeechOutcome, log: dict) -> AsyncIterator[bytes]:
    """Forward chunks as they come; the final cost (SSE usage included) lands in the log line.

    A provider that breaks off mid-stream cannot be hidden any more (the status is sent): the failure
    propagates so the client's connection is cut short, and the log line says why."""
    try:
        async for chunk in outcome.stream:
            yield chunk
    except UpstreamFailure as failure:
        log["stream_error"] = failure.describe()
        raise
    finally:
        log.update(log_fields(outcome.target, outcome.attempts, outcome.charge()))
        if outcome.stream.usage:
            log["upstream_usage"] = outcome.stream.usage


@post("/audio/speech", status_code=200, operation_class=SpeechOperation)
async def create_speech(request: Request) -> Stream:
    speech = await decode_json_request(await request.body(), SpeechRequest)
    gateway: Gateway = request.app.state.gateway
    log = request.scope["state"]["log"]
    log["model_asked"] = speech.model
    route = gateway.route(speech.model)
    validate_speech(speech, route)
    outcome = await gateway.speech(speech, route)
    charge = outcome.charge()
    log.update(log_fields(outcome.target, outcome.attempts, charge))
    headers = gateway_headers(outcome.target, outcome.attempts, charge)
    return Stream(_relay(outcome, log), media_type=outcome.stream.content_type, headers=headers)
