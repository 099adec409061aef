"""Submitting and reading jobs (the API side). Validation is the sync endpoints', before anything is queued."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import IO, Any, Literal

import anyio.to_thread
import msgspec

from ..audio import UnreadableAudio, probe_audio
from ..billing import RequestFacts
from ..catalog import Route, Target, TtsCapabilities
from ..errors import Conflict, InvalidRequest, NotFound
from ..gateway import speech_facts
from ..limits import Dimension
from ..observability.propagation import current_traceparent
from ..speech import SpeechRequest, validate_speech
from ..transcription import Upload, check_duration, parse_transcription_form, validate_transcription
from ..transcription.pipeline import audio_seconds
from ..transcription.request import parse_transcription_fields
from .fetch import check_file_url, parse_s3_url
from .model import FINAL_STATUSES, JobOwner, JobRecord, SpeechJob, TranscriptionJob, new_job_id, now, unfinished_job_error
from .orphans import rescue
from .runner import speech_usage
from .runtime import BACKEND_OUTAGES, TASK_NAME, JobRuntime
from .s3_access import check_s3_read
from .store import UnknownCursor

__all__ = ["JobService", "FileUrlJob", "JobAdmit"]

# A limited key's check before a job is queued (api/admission.py): the route, the request's facts per
# target, what it takes from the rate buckets, and the job id its reservation is held under.
JobAdmit = Callable[[Route, Callable[[Target], RequestFacts], Mapping[Dimension, float], str], Awaitable[None]]


class FileUrlJob(msgspec.Struct, frozen=True, kw_only=True):
    """JSON body of an STT job whose audio the gateway fetches itself."""

    model: str
    file_url: str
    response_format: str = "json"
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    timestamp_granularities: list[str] = []
    include: list[str] = []
    chunking_strategy: Literal["auto"] | dict[str, Any] | None = None   # checked as the multipart field is
    known_speaker_names: list[str] = []
    known_speaker_references: list[str] = []


class JobService:
    """Every method takes the asking `JobOwner`: new jobs get its id, and a job or object is the caller's
    when its owner is either of the caller's ids (see JobOwner.legacy)."""

    def __init__(self, runtime: JobRuntime):
        self.runtime = runtime

    # -- submit ----------------------------------------------------------------------------------------

    async def submit_speech(self, owner: JobOwner, body: SpeechRequest, body_hash: str, idempotency_key: str | None,
                            key_name: str | None = None, admit: JobAdmit | None = None) -> tuple[JobRecord, bool]:
        route = self.runtime.gateway.route(body.model)
        capabilities = route.model.capabilities
        if not isinstance(capabilities, TtsCapabilities):
            raise InvalidRequest(f"{route.model.id} is a speech-to-text model; send the audio as multipart/form-data "
                                 "or JSON with `file_url`.", param="model")
        validate_speech(body, route, max_chars=capabilities.max_job_input_chars)
        if body.stream_format != "audio":
            raise InvalidRequest("Jobs produce a file; `stream_format` must be `audio`.", param="stream_format")
        record = JobRecord(id=new_job_id(), owner=owner.id, kind="tts", model=route.model.id, created_at=now(),
                           request=SpeechJob(body), body_hash=body_hash, key_name=key_name)
        if admit is not None:
            await admit(route, lambda target: speech_facts(body, target), {Dimension.CHARACTERS: len(body.input)},
                        record.id)
        return await self._enqueue(record, owner, idempotency_key)

    async def submit_upload(self, owner: JobOwner, upload: Upload, idempotency_key: str | None,
                            key_name: str | None = None, admit: JobAdmit | None = None) -> tuple[JobRecord, bool]:
        form = parse_transcription_form(upload, "transcribe")
        route = self.runtime.gateway.route(form.model)
        validate_transcription(form, route, upload)
        if form.stream:
            raise InvalidRequest("Jobs produce a file; `stream` is not supported.", param="stream")
        file = upload.file
        assert file is not None, "validate_transcription refuses a form without a file"
        try:
            info = await anyio.to_thread.run_sync(probe_audio, file)
        except UnreadableAudio as exc:
            raise InvalidRequest(f"The file is not readable audio ({exc.reason}).", param="file",
                                 code="invalid_file_format") from None
        check_duration(info, route, form)
        job_id = new_job_id()
        if admit is not None:
            facts = RequestFacts(kind="stt", prompt=form.prompt or "", audio_seconds=audio_seconds(info))
            await admit(route, lambda _target: facts, {Dimension.AUDIO_SECONDS: float(facts.audio_seconds)}, job_id)
        digest = await anyio.to_thread.run_sync(_file_digest, file)
        body_hash = _hash({"form": msgspec.to_builtins(form), "file": digest})
        record = JobRecord(id=job_id, owner=owner.id, kind="stt", model=route.model.id, created_at=now(),
                           request=TranscriptionJob(form, filename=upload.filename), body_hash=body_hash,
                           key_name=key_name)
        async with self._claim(record, owner, idempotency_key) as replay:
            if replay is not None:
                return replay, False
            key = self.runtime.objects.key(owner.id, job_id, "input", _safe_name(upload.filename))
            await self.runtime.objects.put(key, file, upload.content_type)
            return await self._create(msgspec.structs.replace(record, input_key=key))

    async def submit_file_url(self, owner: JobOwner, body: FileUrlJob, body_hash: str, idempotency_key: str | None,
                              key_name: str | None = None, admit: JobAdmit | None = None) -> tuple[JobRecord, bool]:
        check_file_url(body.file_url, self.runtime.objects.bucket)
        if body.file_url.startswith("s3://"):  # another key's upload or result is not this key's to read
            check_s3_read(parse_s3_url(body.file_url)[1], owners=owner.ids, job_prefix=self.runtime.objects.prefix,
                          allow=self.runtime.settings.s3_read_allow)
        fields = {"model": [body.model], "response_format": [body.response_format],
                  "timestamp_granularities[]": list(body.timestamp_granularities)}
        for name in ("language", "prompt", "temperature"):
            if getattr(body, name) is not None:
                fields[name] = [str(getattr(body, name))]
        for name in ("include", "known_speaker_names", "known_speaker_references"):
            if getattr(body, name):
                fields[f"{name}[]"] = list(getattr(body, name))
        if body.chunking_strategy is not None:
            strategy = body.chunking_strategy
            fields["chunking_strategy"] = [strategy if isinstance(strategy, str) else msgspec.json.encode(strategy).decode()]
        fields_only = Upload(fields=fields)
        form = parse_transcription_fields(fields_only, "transcribe")
        route = self.runtime.gateway.route(form.model)
        validate_transcription(form, route, fields_only)
        record = JobRecord(id=new_job_id(), owner=owner.id, kind="stt", model=route.model.id, created_at=now(),
                           request=TranscriptionJob(form, filename=body.file_url.rsplit("/", 1)[-1] or "audio"),
                           file_url=body.file_url, body_hash=body_hash, key_name=key_name)
        if admit is not None:   # the audio's length is unknown until fetched: only a spent budget refuses it
            facts = RequestFacts(kind="stt", prompt=form.prompt or "")
            await admit(route, lambda _target: facts, {}, record.id)
        return await self._enqueue(record, owner, idempotency_key)

    @asynccontextmanager
    async def _claim(self, record: JobRecord, owner: JobOwner,
                     idempotency_key: str | None) -> AsyncIterator[JobRecord | None]:
        """Bind the Idempotency-Key to this job; yields the earlier job when it is a replay, else None.

        A submission that fails after the claim (Redis or S3 down) gives the key back, so the client's
        retry with the same key is served instead of refused. A key bound under the caller's legacy owner
        id still answers with its job."""
        if not idempotency_key:
            yield None
            return
        store = self.runtime.store
        previous_id = None
        if owner.legacy is not None:
            previous_id = await store.idempotency_job(owner.legacy, idempotency_key)
        if previous_id is None:
            previous_id = await store.claim_idempotency_key(record.owner, idempotency_key, record.id)
        if previous_id is None:
            try:
                yield None
            except BaseException:
                with contextlib.suppress(*BACKEND_OUTAGES):
                    await store.release_idempotency_key(record.owner, idempotency_key, record.id)
                raise
            with contextlib.suppress(*BACKEND_OUTAGES):  # the job is queued; at worst the claim lapses early
                await store.keep_idempotency_key(record.owner, idempotency_key)
            return
        previous = await store.get(previous_id)
        if previous is None:
            raise Conflict("A request with this Idempotency-Key is still being submitted; retry shortly.",
                           param="Idempotency-Key", code="idempotency_key_in_use", headers={"retry-after": "1"})
        if previous.body_hash != record.body_hash:
            raise Conflict("This Idempotency-Key was already used with a different request body.",
                           param="Idempotency-Key", code="idempotency_key_reused")
        yield previous

    async def _enqueue(self, record: JobRecord, owner: JobOwner, idempotency_key: str | None) -> tuple[JobRecord, bool]:
        async with self._claim(record, owner, idempotency_key) as replay:
            if replay is not None:
                return replay, False
            return await self._create(record)

    async def _create(self, record: JobRecord) -> tuple[JobRecord, bool]:
        """Record, then queue; a job that could not be queued is not left behind as a record."""
        settings = self.runtime.settings
        record = msgspec.structs.replace(record, traceparent=current_traceparent())  # None unless tracing
        await self.runtime.store.create(record)
        try:
            await self.runtime.queue.enqueue(
                TASK_NAME, job_id=record.id, key=record.id,
                timeout=settings.job_timeout_seconds, heartbeat=settings.job_heartbeat_seconds,
                retries=settings.job_attempts, retry_delay=settings.job_retry_delay_seconds,
                retry_backoff=settings.job_retry_backoff_cap_seconds, ttl=settings.job_retention_seconds,
            )
        except BaseException:
            with contextlib.suppress(*BACKEND_OUTAGES):
                await self.runtime.store.discard(record)
            raise
        return record, True

    # -- read, list, cancel ----------------------------------------------------------------------------

    async def get(self, owner: JobOwner, job_id: str) -> JobRecord:
        record = await self.runtime.store.get(job_id) if job_id.startswith("job_") else None
        if record is None or not owner.owns(record.owner):  # someone else's job is indistinguishable from none
            raise NotFound(f"No job with id {job_id!r}.", param="id", code="job_not_found")
        if record.status not in FINAL_STATUSES:
            record = await self._reconcile(record)
        return record

    async def _reconcile(self, record: JobRecord) -> JobRecord:
        """SAQ may give up on a job where no task of ours runs (swept with no attempts left): say so.
        A job an interrupted sweep left in no queue is put back first (see orphans.py)."""
        saq_job = await self.runtime.queue.job(record.id)
        if saq_job is not None and await rescue(self.runtime.queue, saq_job) == "given_up":
            saq_job = await self.runtime.queue.job(record.id)
        if saq_job is None or saq_job.status not in ("failed", "aborted") or saq_job.retryable:
            return record
        error = unfinished_job_error(saq_job.status, saq_job.error)
        updated = await self.runtime.store.update(
            record.id, lambda r: msgspec.structs.replace(r, status="failed", error=error, completed_at=now()))
        return updated or record

    async def public(self, record: JobRecord) -> dict[str, Any]:
        if record.status == "completed" and record.result is not None:
            url, expires_at = await self.runtime.objects.presigned_get(record.result.key)
            return record.public(url, expires_at)
        return record.public()

    async def list(self, owner: JobOwner, limit: int, after: str | None) -> dict[str, Any]:
        if owner.legacy is not None:
            await self.runtime.store.adopt_index(owner.legacy, owner.id)
        try:
            records, has_more = await self.runtime.store.list(owner.id, limit=limit, after=after)
        except UnknownCursor:
            raise InvalidRequest(f"`after` must be the id of one of your jobs (the `last_id` of the previous page); "
                                 f"{after!r} is not.", param="after", code="invalid_value") from None
        data = [await self.public(r) for r in records]
        return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None, "has_more": has_more}

    async def cancel(self, owner: JobOwner, job_id: str) -> JobRecord:
        record = await self.get(owner, job_id)
        if record.status in FINAL_STATUSES:
            raise Conflict(f"Job {job_id} is already {record.status}.", param="id", code="job_not_cancellable")
        # What it cost so far is known at once; the worker running it settles the pieces still in flight.
        updated = await self.runtime.store.update(job_id, lambda r: msgspec.structs.replace(
            r, status="cancelled", completed_at=now(), usage=speech_usage(r) if r.kind == "tts" else r.usage))
        saq_job = await self.runtime.queue.job(job_id)
        if saq_job is not None:
            await self.runtime.queue.abort(saq_job, "cancelled by the client")
        return updated or record


def _hash(value: Any) -> str:
    return hashlib.sha256(msgspec.json.encode(value, order="sorted")).hexdigest()


def _file_digest(file: IO[bytes]) -> str:
    digest = hashlib.sha256()
    file.seek(0)
    while chunk := file.read(1024 * 1024):
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


def _safe_name(filename: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename.rsplit("/", 1)[-1])[:100]
    return cleaned or "audio"


def body_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
