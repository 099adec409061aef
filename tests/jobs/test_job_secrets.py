"""Jobs leak no key either: not in a failed job's error, not in the worker's log.

Both providers refuse the gateway's key on every attempt, so the job runs its retries and fails; what the
client reads back and everything the worker process logged (tracebacks included) is searched the way
tests/security does.
"""

from __future__ import annotations

from ..fakes import Fault
from ..security.test_secrets import _leaks
from .conftest import wait_for_status


def test_a_job_failed_by_provider_auth_reveals_no_key(alice, fake_openai, fake_siliconflow, jobs_gateway, tmp_path_factory):
    fake_openai.inject(Fault.HTTP_401, times=None)
    fake_siliconflow.inject(Fault.HTTP_401, times=None)
    job = alice.post("/v1/jobs", json={"model": "tts-1", "voice": "alloy", "input": "Hello."}).json()
    done = wait_for_status(alice, job["id"], {"completed", "failed"}, timeout=60)
    assert done["status"] == "failed" and done["error"]["code"] == "upstream_failed", done
    assert "refused the gateway's API key" in done["error"]["message"]
    assert not _leaks(alice.get(f"/v1/jobs/{job['id']}").text) and not _leaks(alice.get("/v1/jobs").text)
    [log] = tmp_path_factory.getbasetemp().glob("worker[0-9]*/worker.log")  # jobs_gateway's worker
    text = log.read_text(errors="replace")
    assert job["id"] in text and "401" in text
    assert not _leaks(text)
    # each failed attempt is one warning line naming the job and why, not a traceback
    lines = text.splitlines()
    retried = [line for line in lines if f"job {job['id']} attempt" in line]
    assert len(retried) == 2  # of three attempts (the default); the last one fails the job instead
    assert all(" WARNING saq " in line and "failed: UpstreamUnavailable: " in line for line in retried)
    [final] = [line for line in lines if f'"job":"{job["id"]}","status":"failed"' in line]
    assert " WARNING audio_gateway" in final and '"code":"upstream_failed"' in final
    assert "Traceback" not in text.split(job["id"], 1)[1]
