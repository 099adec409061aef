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


def test_saqs_status_enum_gives_the_plain_code():
    from saq.job import Status

    assert unfinished_job_error(Status.ABORTED, "swept").code == "job_aborted"
    assert "interrupted" in unfinished_job_error(Status.ABORTED, "swept").message


def test_a_retry_after_from_open_circuits_sets_the_next_job_attempts_delay():
    from types import SimpleNamespace

    from audio_gateway.jobs.worker import _wait_at_least

    job = SimpleNamespace(retry_delay=1.0, retry_backoff=20.0)
    _wait_at_least(job, None)
    assert (job.retry_delay, job.retry_backoff) == (1.0, 20.0)     # no hint: the usual backoff
    _wait_at_least(job, "not a number")
    assert (job.retry_delay, job.retry_backoff) == (1.0, 20.0)
    _wait_at_least(job, "28")
    assert (job.retry_delay, job.retry_backoff) == (28.0, False)   # exactly that long, no jitter below it


def test_job_records_written_before_requests_were_typed_are_still_read():
    import msgspec

    from audio_gateway.jobs.model import SpeechJob, TranscriptionJob
    from audio_gateway.jobs.store import decode_record

    speech = {"id": "job_1", "owner": "o", "kind": "tts", "model": "openai/tts-1", "created_at": 1,
              "request": {"model": "tts-1", "input": "Hi", "voice": "alloy", "response_format": "mp3",
                          "speed": None, "instructions": None, "stream_format": "audio"}}
    record = decode_record(msgspec.json.encode(speech))
    assert isinstance(record.request, SpeechJob) and record.request.speech.input == "Hi"
    stt = {**speech, "id": "job_2", "kind": "stt", "model": "openai/whisper-1",
           "request": {"model": "whisper-1", "task": "transcribe", "response_format": "srt", "filename": "call.wav"}}
    record = decode_record(msgspec.json.encode(stt))
    assert isinstance(record.request, TranscriptionJob)
    assert (record.request.filename, record.request.form.response_format) == ("call.wav", "srt")
