"""`audio-gateway worker`: SAQ workers that run audio jobs; any number, on any machine.

SAQ gives timeouts, retries with capped exponential backoff, and the sweep that
re-queues a job whose worker stopped heartbeating (killed, lost). The task keeps
the gateway's own job record in step with SAQ's view.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

import msgspec
from saq import Worker
from saq.types import PartialTimersDict

from ..catalog import LoadedCatalog, Plan
from ..errors import GatewayError, UpstreamUnavailable, error_body
from ..gateway import Gateway
from ..ledger import LedgerRow
from ..ledger.build import RowContext, served_row
from ..observability.propagation import current_trace_id
from ..observability.telemetry import Telemetry
from ..providers import UpstreamFailure
from ..settings import Settings
from .books import job_row
from .model import JobError, JobRecord, JobResult, JobUsage, now, unfinished_job_error
from .process import WorkerOptions, open_worker_process
from .runner import run_speech, run_transcription, speech_usage
from .runtime import TASK_NAME, JobRuntime
from .shutdown import DrainingQueue

__all__ = ["build_worker", "run_job"]

log = logging.getLogger("audio_gateway.jobs")


def _failed(error: GatewayError) -> JobError:
    detail = error_body(error)["error"]
    return JobError(message=detail["message"], type=detail["type"], code=detail["code"])


def _record_row(runtime: JobRuntime, row: LedgerRow) -> None:
    telemetry = runtime.telemetry
    if telemetry is not None:   # the job's trace on its row; the row counted and put on the job's span
        trace_id = current_trace_id()
        if trace_id is not None and row.trace_id is None:
            row = msgspec.structs.replace(row, trace_id=trace_id)
        telemetry.observe_row(row, runtime.gateway.plan)
    runtime.sink.record(row)
    if runtime.settle is not None:
        runtime.settle(row)


async def _fail(runtime: JobRuntime, job_id: str, error: JobError, *, http_status: int = 502) -> None:
    """The job's final failure: on its record with what it cost so far, in the ledger, and one log line."""
    def fail(record: JobRecord) -> JobRecord:
        usage = speech_usage(record) if record.kind == "tts" else record.usage
        return msgspec.structs.replace(record, status="failed", error=error, completed_at=now(), usage=usage)

    record = await runtime.store.update(job_id, fail)
    if record is not None and record.status == "failed" and record.error == error:
        _record_row(runtime, job_row(record, status="failed", http_status=http_status))
    log.warning(msgspec.json.encode({"job": job_id, "status": "failed", "code": error.code,
                                     "message": error.message}).decode())


async def _settle_cancelled(runtime: JobRuntime, job_id: str) -> None:
    """A client cancelled a running job: it still owes exactly the pieces already synthesised."""
    def settle(record: JobRecord) -> JobRecord | None:
        if record.status != "cancelled":
            return None
        return msgspec.structs.replace(record, usage=speech_usage(record) if record.kind == "tts" else record.usage)

    record = await runtime.store.update(job_id, settle, allow_final=True)
    if record is not None and record.status == "cancelled" and record.pieces:
        _record_row(runtime, job_row(record, status="cancelled", http_status=200))
    elif runtime.release is not None:  # nothing was produced, so no row settles it: give the hold back now
        runtime.release(job_id)


async def _heartbeat(saq_job: Any, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        await saq_job.update()


async def run_job(ctx: dict[str, Any], *, job_id: str) -> None:
    """One attempt at a job, on the catalog generation current when it started, in a span of its own
    (linked to the request that submitted it) when tracing is on."""
    runtime: JobRuntime = ctx["runtime"]
    telemetry = runtime.telemetry
    named = await runtime.store.get(job_id) if telemetry is not None and telemetry.tracing is not None else None
    async with runtime.gateway.pinned() as gateway:
        if named is None or telemetry is None:
            await _run_job(ctx, runtime, gateway, job_id)
            return
        with telemetry.job(job_id, named.kind, named.model, named.traceparent):
            await _run_job(ctx, runtime, gateway, job_id)


async def _run_job(ctx: dict[str, Any], runtime: JobRuntime, gateway: Gateway, job_id: str) -> None:
    saq_job = ctx["job"]
    store = runtime.store

    def start(record: JobRecord) -> JobRecord:
        return msgspec.structs.replace(record, status="in_progress", started_at=record.started_at or now(),
                                       tries=saq_job.attempts)

    record = await store.update(job_id, start)
    if record is None or record.status != "in_progress":
        return  # deleted, cancelled or already finished

    async def progress(value: float) -> None:
        await store.update(job_id, lambda r: msgspec.structs.replace(r, progress=max(r.progress, value)))

    beat = asyncio.create_task(_heartbeat(saq_job, max(0.5, runtime.settings.job_heartbeat_seconds / 3)))
    try:
        result, usage, row = await _produce(runtime, gateway, record, progress)
    except asyncio.CancelledError:
        current = await store.get(job_id)
        if current is not None and current.status == "cancelled":
            await _settle_cancelled(runtime, job_id)
        else:  # shutdown past its grace period: SAQ re-queues the job; say so
            await store.update(job_id, lambda r: msgspec.structs.replace(r, status="queued"))
        raise
    except UpstreamUnavailable as exc:
        error = _failed(exc)
        if saq_job.retryable:  # SAQ re-queues it after a backoff; the record says why it waits
            _wait_at_least(saq_job, exc.headers.get("retry-after"))
            await store.update(job_id, lambda r: msgspec.structs.replace(r, status="queued", error=error))
            raise
        await _fail(runtime, job_id, error, http_status=exc.status)
        return
    except GatewayError as exc:  # the input itself is bad, or the pieces cannot be joined: retrying cannot help
        await _fail(runtime, job_id, _failed(exc), http_status=exc.status)
        return
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat

    done = await store.update(job_id, lambda r: msgspec.structs.replace(
        r, status="completed", progress=1.0, result=result, usage=usage, error=None, completed_at=now()))
    if done is not None and done.status == "completed":
        _record_row(runtime, row(done))
    log.info(msgspec.json.encode({"job": job_id, "status": "completed", "model_served": usage.model_served,
                                  "cost_usd": usage.cost_usd, "bytes": result.bytes}).decode())


def _wait_at_least(saq_job: Any, retry_after: str | None) -> None:
    """Every provider is skipped (circuit open) or busy: retrying before it says it may help only burns
    an attempt, so the next one waits for the Retry-After instead of the usual backoff."""
    if retry_after is None:
        return
    try:
        seconds = float(retry_after)
    except ValueError:
        return
    saq_job.retry_delay = max(seconds, saq_job.retry_delay or 0.0)
    saq_job.retry_backoff = False


RowOf = Callable[[JobRecord], LedgerRow]


async def _produce(runtime: JobRuntime, gateway: Gateway, record: JobRecord,
                   progress: Callable[[float], Awaitable[None]]) -> tuple[JobResult, JobUsage, RowOf]:
    """Run the job through the gateway and store its output in S3; also say how its ledger row reads."""
    if record.kind == "tts":
        output = await run_speech(gateway, record, runtime.store, runtime.objects, progress,
                                  runtime.settings.job_piece_concurrency)

        def row(done: JobRecord) -> LedgerRow:
            return job_row(done, status="completed", http_status=200)
    else:
        routes: list[str] = []
        try:
            output, outcome = await run_transcription(gateway, record, runtime.objects, progress,
                                                      runtime.settings.file_url_allow, on_route=routes.append)
        finally:  # kept on the record even when it fails, so the failed job's row carries it too
            if routes:
                await runtime.store.update(record.id, lambda r: msgspec.structs.replace(r, route=routes[-1]))

        def row(done: JobRecord) -> LedgerRow:
            served = served_row(
                RowContext(id=done.id, created_at=datetime.fromtimestamp(done.created_at, UTC), api_key_id=done.key_name,
                           endpoint="jobs", kind="stt", model_requested=done.model, route=outcome.route),
                target=outcome.target, attempts=outcome.attempts, charge=outcome.charge, usage=outcome.usage,
                facts=outcome.facts, status="completed", http_status=200,
                latency_ms=((done.completed_at or done.created_at) - done.created_at) * 1000.0, ttfb_ms=None,
                bytes_out=output.size)
            return served
    key = runtime.objects.key(record.owner, record.id, f"output.{output.extension}")
    try:
        await runtime.objects.put(key, output.body, output.content_type)
    finally:
        output.body.close()
    return JobResult(key=key, content_type=output.content_type, bytes=output.size), output.usage, row


async def _fail_exhausted(runtime: JobRuntime, saq_job: Any) -> None:
    """A job SAQ gave up on (timeout, sweep with no retries left) must not stay in_progress."""
    job_id = (saq_job.kwargs or {}).get("job_id")
    if job_id and saq_job.status in ("failed", "aborted") and not saq_job.retryable:
        log.warning("job %s given up by SAQ (%s): %s", job_id, saq_job.status, saq_job.error)
        await _fail(runtime, job_id, unfinished_job_error(saq_job.status, saq_job.error))


class ExpectedFailureLog(logging.Filter):
    """SAQ logs every failed attempt with a traceback (and the job's repr, which carries the previous attempt's
    traceback too). A provider outage or a refused input is expected and already explained by the job's own
    error, so one warning line says it; anything else keeps SAQ's record as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        job = record.args[0] if isinstance(record.args, tuple) and record.args else None
        if isinstance(exc, (GatewayError, UpstreamFailure)) and hasattr(job, "key"):
            record.msg = f"job {job.key} attempt {getattr(job, 'attempts', '?')} failed: {type(exc).__name__}: {exc}"
            record.args = None
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def build_worker(settings: Settings, catalog: Plan | LoadedCatalog, *, options: WorkerOptions = WorkerOptions(),
                 telemetry: Telemetry | None = None) -> Worker:
    stack = contextlib.AsyncExitStack()
    loaded = catalog if isinstance(catalog, LoadedCatalog) else LoadedCatalog(
        plan=catalog, version="unversioned", loaded_at=datetime.now(UTC))
    observed = telemetry or Telemetry(settings)

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["runtime"] = await stack.enter_async_context(open_worker_process(settings, loaded, observed, options))

    async def shutdown(ctx: dict[str, Any]) -> None:
        await stack.aclose()

    async def after_process(ctx: dict[str, Any]) -> None:
        if "runtime" in ctx and ctx.get("job") is not None:
            await _fail_exhausted(ctx["runtime"], ctx["job"])

    if settings.queue_url is None:
        raise ValueError("a job worker needs AUDIO_GATEWAY_QUEUE_URL")
    queue = DrainingQueue.from_url(settings.queue_url, name="audio-gateway")
    return Worker(
        queue,
        functions=[(TASK_NAME, run_job)],
        concurrency=settings.worker_concurrency,
        startup=startup,
        shutdown=shutdown,
        after_process=after_process,
        # saq's PartialTimersDict inherits its base's required keys, so a partial dict needs a cast.
        timers=cast(PartialTimersDict, {"sweep": settings.worker_sweep_seconds}),
        # An idle slot waits at most this long in Redis, so a stopping worker is not held by an empty queue.
        dequeue_timeout=1.0,
        # saq annotates whole seconds but hands the value to asyncio.wait, which takes a fraction as well.
        shutdown_grace_period_s=settings.shutdown_grace_seconds,  # type: ignore[arg-type]
    )
