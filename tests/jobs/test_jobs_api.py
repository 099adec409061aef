"""/v1/jobs end to end: gateway → Redis (SAQ) → worker process → fake providers → S3 → presigned URL."""

from __future__ import annotations

import io
import wave
from datetime import UTC
from decimal import Decimal

import av
import boto3
import httpx
import pytest

from ..audio_samples import make_wav
from ..fakes import Fault
from .conftest import BUCKET, wait_for_status

SPEECH = {"model": "tts-1", "voice": "alloy", "input": "A short chapter. It has two sentences."}


def test_jobs_answer_503_with_instructions_when_no_queue_is_configured(client):
    response = client.post("/v1/jobs", json=SPEECH)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "jobs_not_configured"
    assert "AUDIO_GATEWAY_QUEUE_URL" in error["message"] and "AUDIO_GATEWAY_S3_BUCKET" in error["message"]


def test_speech_job_completes_and_the_presigned_url_serves_the_audio(alice, fake_openai):
    response = alice.post("/v1/jobs", json={**SPEECH, "response_format": "mp3"})
    assert response.status_code == 202
    job = response.json()
    assert job["id"].startswith("job_") and len(job["id"]) == 36
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert (job["object"], job["status"], job["model"]) == ("job", "queued", "openai/tts-1")
    assert isinstance(job["created_at"], int)

    done = wait_for_status(alice, job["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    assert done["progress"] == 1.0 and done["completed_at"] >= done["created_at"]
    assert done["usage"]["model_served"] == "openai/tts-1"
    assert done["usage"]["lines"] == [{"model": "openai/tts-1", "unit": "character", "quantity": str(len(SPEECH["input"])),
                                       "cost_usd": str(Decimal(len(SPEECH["input"])) * 15 / 1_000_000), "estimated": False}]
    assert (done["usage"]["pieces"], done["usage"]["pieces_billed"]) == (1, 1)
    result = done["result"]
    assert result["content_type"] == "audio/mpeg" and result["expires_at"] > done["created_at"]
    audio = httpx.get(result["url"])  # plain HTTP, no gateway credentials
    assert audio.status_code == 200 and len(audio.content) == result["bytes"]
    assert audio.headers["content-type"] == "audio/mpeg"
    with av.open(io.BytesIO(audio.content)) as container:
        assert sum(f.samples for f in container.decode(audio=0)) > 0
    again = alice.get(f"/v1/jobs/{job['id']}").json()["result"]  # minted on each read, still valid
    assert httpx.get(again["url"]).content == audio.content


def test_long_input_is_split_into_provider_sized_pieces_and_stitched(alice, fake_openai):
    sentence = "This sentence belongs to a very long chapter that no single request could carry. "
    text = sentence * 130  # ~10,900 characters, over tts-1's 4,096
    fake_openai.audio_seconds = 0.4
    response = alice.post("/v1/jobs", json={"model": "tts-1", "voice": "nova", "input": text, "response_format": "wav"})
    assert response.status_code == 202, response.text
    done = wait_for_status(alice, response.json()["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    pieces = [r.json["input"] for r in fake_openai.requests]
    assert len(pieces) >= 3 and all(len(p) <= 4096 for p in pieces)
    assert " ".join(pieces).split() == text.split()  # nothing lost, no word cut
    data = httpx.get(done["result"]["url"]).content
    with wave.open(io.BytesIO(data)) as wav:  # one valid WAV with exact header sizes
        assert wav.getnframes() / wav.getframerate() == pytest.approx(0.4 * len(pieces), abs=0.05)
    # Each piece is billed for its share of the input (the whitespace between pieces included): the job
    # prices the text exactly as one sync request would.
    assert done["usage"]["lines"][0]["quantity"] == str(len(text))
    assert done["usage"]["pieces"] == done["usage"]["pieces_billed"] == len(pieces)


def test_transcription_job_from_an_upload(alice, fake_openai):
    response = alice.post("/v1/jobs", data={"model": "whisper-1", "response_format": "srt"},
                          files={"file": ("meeting.wav", make_wav(3.0), "audio/wav")})
    assert response.status_code == 202, response.text
    done = wait_for_status(alice, response.json()["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    assert [(line["unit"], line["quantity"]) for line in done["usage"]["lines"]] == [("second", "3")]
    srt = httpx.get(done["result"]["url"]).text
    assert srt.startswith("1\n00:00:00,000 --> ")
    assert fake_openai.requests[0].file.data == make_wav(3.0)


def test_transcription_job_from_an_s3_file_url(alice, s3_server, fake_siliconflow):
    s3 = boto3.client("s3", endpoint_url=s3_server.url, region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test")
    s3.put_object(Bucket=BUCKET, Key="inbox/call.wav", Body=make_wav(2.0), ContentType="audio/wav")
    response = alice.post("/v1/jobs", json={"model": "alibaba/sensevoice-small", "file_url": f"s3://{BUCKET}/inbox/call.wav",
                                            "response_format": "verbose_json"})
    assert response.status_code == 202, response.text
    done = wait_for_status(alice, response.json()["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    body = httpx.get(done["result"]["url"]).json()
    assert body["duration"] == pytest.approx(2.0, abs=0.01) and body["text"] == fake_siliconflow.transcript_text


@pytest.mark.parametrize("url", ["http://example.com/a.wav", "ftp://example.com/a.wav", "s3://other-bucket/a.wav",
                                 "file:///etc/passwd"])
def test_file_url_must_be_https_or_our_bucket(alice, url):
    response = alice.post("/v1/jobs", json={"model": "whisper-1", "file_url": url})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "file_url"


@pytest.mark.parametrize("body, param, status", [
    ({**SPEECH, "input": ""}, "input", 400),
    ({**SPEECH, "input": "x" * 200_001}, "input", 400),
    ({**SPEECH, "voice": "darth"}, "voice", 400),
    ({**SPEECH, "model": "acme/none"}, "model", 404),
    ({"model": "gpt-4o-mini-tts", "voice": "alloy", "input": "x", "stream_format": "sse"}, "stream_format", 400),
])
def test_job_validation_matches_the_sync_endpoint_and_queues_nothing(alice, body, param, status):
    # Ids only: earlier jobs may still change status, and result URLs are re-signed on every read.
    before = [job["id"] for job in alice.get("/v1/jobs").json()["data"]]
    response = alice.post("/v1/jobs", json=body)
    assert response.status_code == status
    assert response.json()["error"]["param"] == param
    assert [job["id"] for job in alice.get("/v1/jobs").json()["data"]] == before


def test_garbage_upload_is_rejected_before_queueing(alice):
    response = alice.post("/v1/jobs", data={"model": "whisper-1"}, files={"file": ("a.wav", b"not audio" * 100, "audio/wav")})
    assert response.status_code == 400 and response.json()["error"]["param"] == "file"


def test_job_that_cannot_succeed_fails_after_its_retries(alice, fake_openai, fake_siliconflow):
    fake_openai.inject(Fault.HTTP_500, times=None)
    fake_siliconflow.inject(Fault.HTTP_503, times=None)
    response = alice.post("/v1/jobs", json=SPEECH)
    done = wait_for_status(alice, response.json()["id"], {"completed", "failed"}, timeout=60)
    assert done["status"] == "failed"
    assert done["error"]["code"] == "upstream_failed" and "openai" in done["error"]["message"]
    assert fake_openai.hits == 3  # three attempts (the catalog default), each trying the whole chain
    assert done["result"] is None


def test_job_with_input_the_provider_refuses_fails_without_retrying(alice, fake_openai):
    fake_openai.inject(Fault.HTTP_400, times=None)
    response = alice.post("/v1/jobs", json={**SPEECH, "model": "tts-1-hd"})
    done = wait_for_status(alice, response.json()["id"], {"completed", "failed"})
    assert done["status"] == "failed" and done["error"]["type"] == "invalid_request_error"
    assert fake_openai.hits == 1


def test_cancel_a_running_job(alice, fake_openai):
    fake_openai.inject(Fault.HANG, times=None)
    job = alice.post("/v1/jobs", json=SPEECH).json()
    fake_openai.wait_for_requests(1)
    cancelled = alice.delete(f"/v1/jobs/{job['id']}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    fake_openai.release()
    assert alice.get(f"/v1/jobs/{job['id']}").json()["status"] == "cancelled"
    again = alice.delete(f"/v1/jobs/{job['id']}")
    assert again.status_code == 409


def test_idempotency_key_returns_the_same_job(alice):
    headers = {"Idempotency-Key": "chapter-7"}
    first = alice.post("/v1/jobs", json=SPEECH, headers=headers)
    second = alice.post("/v1/jobs", json=SPEECH, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    conflict = alice.post("/v1/jobs", json={**SPEECH, "input": "Another text."}, headers=headers)
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "idempotency_key_reused"


def test_jobs_are_private_to_the_key_that_created_them(alice, bob, jobs_gateway):
    job = alice.post("/v1/jobs", json=SPEECH).json()
    assert bob.get(f"/v1/jobs/{job['id']}").status_code == 404
    assert bob.delete(f"/v1/jobs/{job['id']}").status_code == 404
    assert job["id"] not in [j["id"] for j in bob.get("/v1/jobs").json()["data"]]
    assert httpx.get(f"{jobs_gateway.url}/v1/jobs/{job['id']}").status_code == 401
    assert alice.get("/v1/jobs/job_00000000000000000000000000000000").status_code == 404


def test_list_is_newest_first_and_paginates(alice, bob):
    ids = [bob.post("/v1/jobs", json={**SPEECH, "input": f"Item {i}."}).json()["id"] for i in range(3)]
    listing = bob.get("/v1/jobs", params={"limit": 100}).json()
    assert listing["object"] == "list"
    seen = [j["id"] for j in listing["data"]]
    assert seen[:3] == ids[::-1]
    created = [j["created_at"] for j in listing["data"]]
    assert created == sorted(created, reverse=True)
    page = bob.get("/v1/jobs", params={"limit": 1}).json()
    assert [j["id"] for j in page["data"]] == [ids[2]] and page["has_more"] is True
    following = bob.get("/v1/jobs", params={"limit": 2, "after": page["last_id"]}).json()
    assert [j["id"] for j in following["data"]] == [ids[1], ids[0]]
    assert bob.get("/v1/jobs", params={"limit": 0}).status_code == 400


def test_readyz_reports_queue_and_storage(jobs_gateway):
    body = httpx.get(f"{jobs_gateway.url}/readyz").json()
    assert body["status"] == "ready" and body["jobs"] == {"queue": True, "storage": True}


def test_result_urls_are_signed_to_expire_after_the_configured_time(alice, fake_openai):
    """moto does not check signatures, so this pins what S3 enforces: the signed expiry is the setting (120 s
    in these tests), the signature covers it, and `expires_at` tells the client when that is."""
    from datetime import datetime
    from urllib.parse import parse_qs, urlsplit

    job = alice.post("/v1/jobs", json=SPEECH).json()
    done = wait_for_status(alice, job["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    query = parse_qs(urlsplit(done["result"]["url"]).query)
    assert query["X-Amz-Expires"] == ["120"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and len(query["X-Amz-Signature"][0]) == 64
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    assert abs(done["result"]["expires_at"] - (signed_at + 120)) <= 2


def test_job_ids_carry_128_random_bits(alice):
    import re

    ids = {alice.post("/v1/jobs", json=SPEECH).json()["id"] for _ in range(20)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"job_[0-9a-f]{32}", job_id) for job_id in ids)
