"""A job as stored in Redis and as shown to clients.

`JobRecord` is the gateway's own record (owner, request, result location,
usage); SAQ only carries the job id and does the scheduling, retries and sweeps.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Literal

import msgspec

from ..speech.request import SpeechRequest
from ..transcription.request import TranscriptionRequest

__all__ = ["JobRecord", "JobResult", "JobUsage", "JobUsageLine", "JobError", "JobOwner", "PieceRecord", "PieceLine",
           "SpeechJob", "TranscriptionJob", "JobRequest", "new_job_id", "now", "FINAL_STATUSES", "JobStatus"]

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


class SpeechJob(msgspec.Struct, frozen=True, tag="speech"):
    """A speech job: the validated `/v1/audio/speech` body."""

    speech: SpeechRequest


class TranscriptionJob(msgspec.Struct, frozen=True, tag="transcription"):
    """A transcription job: the validated form, and the name the audio came with."""

    form: TranscriptionRequest
    filename: str = "audio"


JobRequest = SpeechJob | TranscriptionJob


class PieceLine(msgspec.Struct, frozen=True):
    unit: str
    quantity: str          # exact decimal text
    price_usd: str
    per: int
    cost_usd: str
    estimated: bool = False


class PieceRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One synthesised piece of a speech job, kept (audio in S3, charge here) so a retry never pays twice."""

    index: int
    key: str               # S3 key of the piece's audio
    model_served: str
    provider: str
    attempts: int          # attempts that reached a provider
    lines: tuple[PieceLine, ...]
    cost_usd: str
    bytes: int


class JobUsageLine(msgspec.Struct, frozen=True):
    """Pieces served by one model, one unit: never a sum across units or models."""

    model: str
    unit: str
    quantity: str
    cost_usd: str
    estimated: bool = False


class JobUsage(msgspec.Struct, frozen=True, kw_only=True):
    cost_usd: str                          # exact sum of the lines
    lines: tuple[JobUsageLine, ...]
    model_served: str                      # models that served, most pieces first, comma-separated
    attempts: int
    pieces: int | None = None              # speech: pieces in the job, and how many were synthesised (billed)
    pieces_billed: int | None = None


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
    request: JobRequest                 # the validated request (speech body or transcription form)
    input_key: str | None = None        # S3 key of an uploaded STT input
    file_url: str | None = None         # or a URL the worker fetches
    result: JobResult | None = None
    usage: JobUsage | None = None
    error: JobError | None = None
    body_hash: str | None = None        # for Idempotency-Key replays
    tries: int = 0
    pieces: tuple[PieceRecord, ...] = ()  # speech: pieces already synthesised (and paid for)
    piece_count: int = 0                # speech: pieces the input is cut into (0 until the first run)
    key_name: str | None = None         # the submitting key's name, for the ledger (never the secret)
    route: str | None = None            # why its first target was first (x-gateway-route), set when it runs
    traceparent: str | None = None      # the submitting request's span (W3C), which the job's spans link to

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
            "route": self.route,
            "usage": msgspec.to_builtins(self.usage) if self.usage else None,
            "error": msgspec.to_builtins(self.error) if self.error else None,
        }
