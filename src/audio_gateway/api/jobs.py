"""`/v1/jobs`: submit (202 + Location), read (fresh presigned URL), list, cancel. Private per API key."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.types import ExceptionHandlersMap

from ..billing import RequestFacts
from ..catalog import Route, Target
from ..errors import InvalidRequest, ServiceUnavailable
from ..jobs.model import JobOwner
from ..jobs.runtime import BACKEND_OUTAGES
from ..jobs.service import FileUrlJob, JobService, body_hash
from ..limits import Dimension
from ..speech import SpeechRequest
from ..transcription import read_multipart
from .admission import LIMIT_OUTAGES, admit, keep_reservation
from .auth import client_key
from .body import read_capped
from .errors import decode_json_body, decode_json_request, gateway_error_response, json_response
from .openapi import CreateJobOperation, JobOperation, ListJobsOperation
from .transcriptions import upload_limits

__all__ = ["create_job", "get_job", "list_jobs", "cancel_job"]

ANONYMOUS = "anonymous"
MAX_JOB_JSON_BYTES = 2 * 1024 * 1024  # a 200,000-character input, escaped, fits; multipart has its own caps
log = logging.getLogger("audio_gateway.jobs")


class _ModelOnly(msgspec.Struct):
    model: str = ""
    file_url: str | None = None


def _service(request: Request) -> JobService:
    service = request.app.state.get("jobs")
    if service is None:
        raise ServiceUnavailable(
            "Async jobs are not configured. Set AUDIO_GATEWAY_QUEUE_URL (e.g. redis://127.0.0.1:6379/0) and "
            "AUDIO_GATEWAY_S3_BUCKET (plus AWS_ENDPOINT_URL / AWS_* credentials), then start `audio-gateway worker`.",
            code="jobs_not_configured")
    return service


def _backend_down(request: Request, exc: Exception) -> Response:
    log.warning("job backend unreachable on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return gateway_error_response(request, ServiceUnavailable(
        "The job queue or its storage is unreachable right now. Retry shortly.",
        code="jobs_unavailable", headers={"retry-after": "5"}))


# Per job route: only these handlers touch Redis and S3.
_OUTAGE_HANDLERS: ExceptionHandlersMap = {outage: _backend_down for outage in BACKEND_OUTAGES}


def _owner(request: Request) -> JobOwner:
    """The key's owner id, and its legacy one: the secret is at hand here, so older jobs stay reachable."""
    key = client_key(request)
    return JobOwner(key.owner, legacy=key.legacy_owner) if key else JobOwner(ANONYMOUS)


@post("/jobs", status_code=202, request_max_body_size=None, operation_class=CreateJobOperation, exception_handlers=_OUTAGE_HANDLERS)
async def create_job(request: Request) -> Response:
    service = _service(request)
    owner = _owner(request)
    key = client_key(request)
    key_name = key.name if key else None
    idempotency_key = request.headers.get("idempotency-key") or None
    if idempotency_key is not None and len(idempotency_key) > 255:
        raise InvalidRequest("Idempotency-Key must be at most 255 characters.", param="Idempotency-Key")
    settings = service.runtime.settings
    hold = settings.job_timeout_seconds * settings.job_attempts + settings.job_retry_backoff_cap_seconds * 3 + 300

    async def admit_job(route: Route, facts_for: Callable[[Target], RequestFacts], units: Mapping[Dimension, float],
                        job_id: str) -> None:
        await admit(request, route, facts_for=facts_for, units=units, reservation=job_id, hold_seconds=hold)

    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        upload = await read_multipart(content_type, request.stream(), upload_limits(service.runtime.gateway))
        try:
            record, created = await service.submit_upload(owner, upload, idempotency_key, key_name, admit_job)
        finally:
            upload.close()
    else:
        raw = await read_capped(request, MAX_JOB_JSON_BYTES)
        peek = await decode_json_request(raw, _ModelOnly)  # depth checked here, once
        if peek.file_url is not None:
            job = decode_json_body(raw, FileUrlJob, depth_checked=True)
            record, created = await service.submit_file_url(owner, job, body_hash(raw), idempotency_key, key_name,
                                                                   admit_job)
        else:
            speech = decode_json_body(raw, SpeechRequest, depth_checked=True)
            record, created = await service.submit_speech(owner, speech, body_hash(raw), idempotency_key, key_name,
                                                                 admit_job)
    if created:
        keep_reservation(request)   # held under the job's id until its worker settles it
    request.scope["state"]["log"].update({"model_asked": record.model, "job": record.id, "job_created": created})
    return json_response(await service.public(record), 202, {"Location": f"/v1/jobs/{record.id}"})


@get("/jobs/{job_id:str}", operation_class=JobOperation, exception_handlers=_OUTAGE_HANDLERS)
async def get_job(request: Request, job_id: str) -> Response:
    service = _service(request)
    return json_response(await service.public(await service.get(_owner(request), job_id)))


@get("/jobs", operation_class=ListJobsOperation, exception_handlers=_OUTAGE_HANDLERS)
async def list_jobs(request: Request) -> Response:
    service = _service(request)
    try:
        limit = int(request.query_params.get("limit", "20"))
    except ValueError:
        raise InvalidRequest("`limit` must be an integer.", param="limit") from None
    if not 1 <= limit <= 100:
        raise InvalidRequest("`limit` must be between 1 and 100.", param="limit")
    after = request.query_params.get("after") or None
    return json_response(await service.list(_owner(request), limit, after))


@delete("/jobs/{job_id:str}", status_code=200, operation_class=JobOperation, exception_handlers=_OUTAGE_HANDLERS)
async def cancel_job(request: Request, job_id: str) -> Response:
    service = _service(request)
    record = await service.cancel(_owner(request), job_id)
    limiter = request.app.state.get("limiter")
    if record.started_at is None and limiter is not None:   # never ran: no row will settle its reservation
        try:
            await limiter.release(record.id)
        except LIMIT_OUTAGES:
            log.warning("could not release the reservation of cancelled job %s; it expires on its own", record.id)
    return json_response(await service.public(record))
