"""The end of a run: wait (bounded) for every accepted job to finish, and prove each result exists.

"Nothing lost" is checked from the outside, through the public API only: every job id a 202 returned must
reach completed, failed or cancelled, and every completed job's presigned URL must serve exactly the bytes
the job record announces.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import msgspec

from .stack import CLIENT_KEYS

__all__ = ["JobSummary", "drain_jobs", "running_jobs"]

TERMINAL = frozenset({"completed", "failed", "cancelled"})
_POLL_SECONDS = 0.25
_PARALLEL = 16


class JobSummary(msgspec.Struct, frozen=True, kw_only=True):
    accepted: int
    completed: int
    failed: int
    cancelled: int
    missing: int
    """Accepted, then unknown to the gateway (404): lost."""
    stuck: int
    """Still queued or in progress when the bounded wait ran out."""
    results_checked: int
    results_bad: int
    """Completed, but the presigned URL did not serve the announced bytes."""
    drain_seconds: float
    failure_codes: dict[str, int]
    """Why jobs failed, by error code (a failure is a legitimate end when every provider kept failing)."""
    failure_examples: dict[str, str]
    """One error message per failure code."""
    examples: list[str]
    """Lost, unfinished or bad-result jobs (should be empty)."""
    interrupted: dict[str, str]
    """How the jobs that were running when a worker was killed or stopped ended (id -> final status)."""
    slowest: list[str]
    """The slowest jobs, "id: N s status" from creation to their end (whole seconds, as the API reports)."""


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {CLIENT_KEYS[key]}"}


async def running_jobs(http: httpx.AsyncClient) -> list[str] | None:
    """Ids of jobs in progress right now, among the newest 100 of each key (None if the API would not say)."""
    running: list[str] = []
    for key in CLIENT_KEYS:
        try:
            response = await http.get("/v1/jobs", params={"limit": 100}, headers=_auth(key))
            running += [job["id"] for job in response.json()["data"] if job["status"] == "in_progress"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return None
    return running


async def _check_result(http: httpx.AsyncClient, job: dict) -> str | None:
    result = job.get("result") or {}
    try:
        response = await http.get(result["url"])
    except (KeyError, httpx.HTTPError) as exc:
        return f"{job['id']}: result not fetchable ({type(exc).__name__}: {exc})"
    if response.status_code != 200 or len(response.content) != result.get("bytes"):
        return f"{job['id']}: result URL gave {response.status_code}, {len(response.content)} of {result.get('bytes')} bytes"
    return None


async def drain_jobs(http: httpx.AsyncClient, jobs: dict[str, str], timeout: float,
                     interrupted: frozenset[str] = frozenset()) -> JobSummary:
    """Poll every job until it is terminal (or ``timeout`` passes), then fetch every completed result."""
    started = time.monotonic()
    pending = dict(jobs)
    final: dict[str, dict] = {}
    missing: list[str] = []
    gate = asyncio.Semaphore(_PARALLEL)

    async def poll(job_id: str, key: str) -> None:
        async with gate:
            try:
                response = await http.get(f"/v1/jobs/{job_id}", headers=_auth(key))
            except httpx.HTTPError:
                return  # try again next round
        if response.status_code == 404:
            missing.append(job_id)
            pending.pop(job_id, None)
        elif response.status_code == 200 and response.json().get("status") in TERMINAL:
            final[job_id] = response.json()
            pending.pop(job_id, None)

    while pending and time.monotonic() - started < timeout:
        await asyncio.gather(*(poll(job_id, key) for job_id, key in list(pending.items())))
        if pending:
            await asyncio.sleep(_POLL_SECONDS)
    drain_seconds = time.monotonic() - started

    statuses = Counter(job["status"] for job in final.values())
    completed = [job for job in final.values() if job["status"] == "completed"]

    async def check(job: dict) -> str | None:
        async with gate:
            return await _check_result(http, job)

    bad = [problem for problem in await asyncio.gather(*(check(job) for job in completed)) if problem]
    failed = [job.get("error") or {} for job in final.values() if job["status"] == "failed"]
    codes = Counter(str(error.get("code")) for error in failed)
    messages = {str(error.get("code")): str(error.get("message"))[:300] for error in reversed(failed)}
    examples = [f"{job_id}: lost (404)" for job_id in missing[:5]]
    examples += [f"{job_id}: never finished" for job_id in list(pending)[:5]]
    examples += bad[:5]
    ends = sorted(((job.get("completed_at") or 0) - job["created_at"], job_id) for job_id, job in final.items())
    slowest = [f"{job_id}: {seconds} s {final[job_id]['status']}" for seconds, job_id in reversed(ends[-3:])]
    return JobSummary(accepted=len(jobs), completed=statuses["completed"], failed=statuses["failed"],
                      cancelled=statuses["cancelled"], missing=len(missing), stuck=len(pending),
                      results_checked=len(completed), results_bad=len(bad), drain_seconds=round(drain_seconds, 2),
                      failure_codes=dict(codes), failure_examples=messages, examples=examples,
                      interrupted={job_id: final[job_id]["status"] if job_id in final else "not terminal"
                                   for job_id in sorted(interrupted)}, slowest=slowest)
