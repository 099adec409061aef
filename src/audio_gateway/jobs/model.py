"""A job as stored in Redis and as shown to clients.

`JobRecord` is the gateway's own record (owner, request, result location,
usage); SAQ only carries the job id and does the scheduling, retries and sweeps.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Literal

import msgspec

__all__ = ["JobRecord", "JobResult", "JobUsage", "JobError", "JobOwner", "new_job_id", "now", "FINAL_STATUSES",
           "JobStatus"]

JobStatus = Literal["queued", "in_progress", "completed", "failed", "cancelled"]
FINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})


def new_job_id() -> str:
    """128 random bits: job ids are unguessable."""
    return "job_" + secrets.token_hex(16)


def now() -> int:
    return int(time.time())


class JobOwner(msgspec.Struct, frozen=True):
    """Who asks. New jobs and objects get `id` (`ClientKey.owner`); `legacy` is the id the same key's jobs
    got before owner ids were made from key names, still accepted so that those stay the key's own."""

    id: str
    legacy: str | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.id,) if self.legacy is None else (self.id, self.legacy)

    def owns(self, owner: str) -> bool:
        return owner in self.ids


class JobResult(msgspec.Struct, frozen=True):
    key: str
    content_type: str
    bytes: int


class JobUsage(msgspec.Struct, frozen=True):
    cost_usd: str
    billing_unit: str
    billing_quantity: str
    model_served: str
    attempts: int


class JobError(msgspec.Struct, frozen=True):
    message: str
    type: str
    code: str | None = None


def unfinished_job_error(saq_status: Any, saq_error: str | None) -> JobError:
    """What a client is told about a job SAQ gave up on. SAQ's own error is a traceback or an
    internal note: it goes to the worker log, never to the client.

    `saq_status` is SAQ's `Status` (a str enum whose str() is "Status.FAILED" on 3.11) or its value.
    """
    saq_status = getattr(saq_status, "value", saq_status)
    if saq_error and "TimeoutError" in saq_error:
        message = "The job ran past its time limit."
    elif saq_status == "aborted":
        message = "The job was interrupted (its worker stopped) more times than it may be retried."
    else:
        message = "The job failed unexpectedly; the operator's worker log has the details."
    return JobError(message=message, type="job_error", code=f"job_{saq_status}")


class JobRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    owner: str
    kind: Literal["tts", "stt"]
    model: str
    status: JobStatus = "queued"
    created_at: int
    started_at: int | None = None
    completed_at: int | None = None
    progress: float = 0.0
    request: dict[str, Any]             # the validated request fields (speech body or transcription form)
    input_key: str | None = None        # S3 key of an uploaded STT input
    file_url: str | None = None         # or a URL the worker fetches
    result: JobResult | None = None
    usage: JobUsage | None = None
    error: JobError | None = None
    body_hash: str | None = None        # for Idempotency-Key replays
    tries: int = 0

    def public(self, url: str | None = None, expires_at: int | None = None) -> dict[str, Any]:
        """The client-facing shape of GET /v1/jobs/{id}."""
        result = None
        if self.result is not None and url is not None:
            result = {"url": url, "expires_at": expires_at, "content_type": self.result.content_type,
                      "bytes": self.result.bytes}
        return {
            "id": self.id, "object": "job", "status": self.status, "model": self.model, "kind": self.kind,
            "created_at": self.created_at, "completed_at": self.completed_at, "progress": round(self.progress, 4),
            "result": result,
            "usage": msgspec.to_builtins(self.usage) if self.usage else None,
            "error": msgspec.to_builtins(self.error) if self.error else None,
        }
