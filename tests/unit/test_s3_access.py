"""What an s3:// file_url may name (pure): own job objects, allowed prefixes outside the job prefix, nothing else."""

from __future__ import annotations

import pytest

from audio_gateway.errors import PermissionDenied
from audio_gateway.jobs.s3_access import check_s3_read
from audio_gateway.settings import Settings, SettingsError

MINE, OLD_MINE, THEIRS = "a" * 32, "b" * 32, "c" * 32
JOB = "job_" + "0123456789abcdef" * 2


@pytest.mark.parametrize("job_prefix, key, allow, allowed", [
    ("jobs/", f"jobs/{MINE}/{JOB}/output.mp3", (), True),
    ("jobs/", f"jobs/{OLD_MINE}/{JOB}/input/a.wav", (), True),     # the legacy owner id is the caller's too
    ("jobs/", f"jobs/{THEIRS}/{JOB}/output.mp3", (), False),
    ("jobs/", f"jobs/{MINE}x/{JOB}/output.mp3", (), False),        # a longer owner id is not a sub-path
    ("jobs/", f"jobs/{THEIRS}/{JOB}/output.mp3", ("jobs/",), False),  # settings refuse this; still refused here
    ("jobs/", "inbox/call.wav", (), False),
    ("jobs/", "inbox/call.wav", ("inbox/",), True),
    ("jobs/", "inboxes/call.wav", ("inbox/",), False),
    ("", f"{MINE}/{JOB}/output.mp3", (), True),
    ("", f"{THEIRS}/{JOB}/output.mp3", ("",), False),              # empty job prefix: job objects known by shape
    ("", f"{THEIRS}/{JOB}/output.mp3", (THEIRS[:4],), False),
    ("", f"{THEIRS}/{JOB}", ("c",), False),
    ("", "inbox/call.wav", ("inbox/",), True),
    ("", f"{THEIRS}/notes.wav", ("c",), True),                     # not a job object: the allow-list decides
])
def test_who_may_name_what(job_prefix, key, allow, allowed):
    def check() -> None:
        check_s3_read(key, owners=(MINE, OLD_MINE), job_prefix=job_prefix, allow=allow)

    if allowed:
        check()
    else:
        with pytest.raises(PermissionDenied) as refused:
            check()
        assert (refused.value.status, refused.value.code, refused.value.param) == (
            403, "insufficient_permissions", "file_url")
        assert refused.value.type == "invalid_request_error"


@pytest.mark.parametrize("entry", ["jobs/", "jobs/abc", "job", ""])
def test_settings_refuse_an_allow_entry_reaching_into_the_job_prefix(entry):
    env = {"AUDIO_GATEWAY_SECRET_KEY": "unit-test-server-secret-0123456789abcdef", "AUDIO_GATEWAY_S3_PREFIX": "jobs/",
           "AUDIO_GATEWAY_S3_READ_ALLOW": f"inbox/,{entry}"}
    if entry:
        with pytest.raises(SettingsError, match="overlaps the job prefix"):
            Settings.from_env(env)
    else:
        assert Settings.from_env(env).s3_read_allow == ("inbox/",)
