"""What a client reads about a job SAQ gave up on never includes SAQ's traceback."""

from __future__ import annotations

import pytest

from audio_gateway.jobs.model import unfinished_job_error

TRACEBACK = ('Traceback (most recent call last):\n  File "/srv/app/src/audio_gateway/jobs/worker.py", line 60\n'
             "RuntimeError: redis://:hunter2@10.0.0.5:6379/0 went away")


@pytest.mark.parametrize(("status", "saq_error", "needle", "code"), [
    ("failed", "TimeoutError()", "time limit", "job_failed"),
    ("aborted", "swept", "interrupted", "job_aborted"),
    ("failed", TRACEBACK, "unexpectedly", "job_failed"),
    ("failed", None, "unexpectedly", "job_failed"),
])
def test_the_client_gets_a_sentence_not_the_internals(status, saq_error, needle, code):
    error = unfinished_job_error(status, saq_error)
    assert needle in error.message and error.code == code and error.type == "job_error"
    for leak in ("Traceback", "worker.py", "hunter2", "10.0.0.5", "RuntimeError"):
        assert leak not in error.message
