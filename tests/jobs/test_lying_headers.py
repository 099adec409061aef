"""Transcription jobs of uploads whose headers claim 1 s but hold 119.9 s (issue 20).

A job is billed what a sync request is billed for the same bytes, and is refused at submission, before
anything is queued or stored, when the audio exceeds the model's ``max_duration_seconds``.
"""

from __future__ import annotations

import pytest

from ..audio_lies import UPLOADED_LIARS, liar_upload, whole_seconds
from ..conftest import keyed_client
from ..support.catalogs import catalog_with_duration_limit
from ..support.server_thread import GatewayServer
from .conftest import jobs_env, wait_for_status

LIMIT = 60


@pytest.mark.parametrize("kind", UPLOADED_LIARS)
def test_job_is_billed_for_the_audio_not_the_header(alice, fake_openai, kind):
    response = alice.post("/v1/jobs", data={"model": "whisper-1", "response_format": "json"}, files=liar_upload(kind))
    assert response.status_code == 202, response.text
    done = wait_for_status(alice, response.json()["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    seconds = whole_seconds(kind)
    assert [(line["unit"], line["quantity"]) for line in done["usage"]["lines"]] == [("second", str(seconds))]
    assert fake_openai.requests[-1].file.data == liar_upload(kind)["file"][1]


@pytest.fixture(scope="module")
def limited_jobs(tmp_path_factory, fake_openai, fake_siliconflow, redis_server, s3_server):
    """A jobs gateway on the limited catalog, without a worker: a refused submission must never need one."""
    catalog = catalog_with_duration_limit(tmp_path_factory.mktemp("limited-jobs"), LIMIT)
    server = GatewayServer(jobs_env(fake_openai, fake_siliconflow, redis_server, s3_server, db=9),
                           catalog_dir=catalog).start()
    with keyed_client(server.url, "alice") as http:
        yield http
    server.stop()


@pytest.mark.parametrize("kind", UPLOADED_LIARS)
def test_job_cannot_slip_past_max_duration_seconds(limited_jobs, fake_siliconflow, kind):
    before = limited_jobs.get("/v1/jobs").json()["data"]
    response = limited_jobs.post("/v1/jobs", data={"model": "alibaba/sensevoice-small"}, files=liar_upload(kind))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("file", "audio_too_long")
    assert f"at most {LIMIT} s" in error["message"]
    assert limited_jobs.get("/v1/jobs").json()["data"] == before  # no job recorded
    assert fake_siliconflow.hits == 0
