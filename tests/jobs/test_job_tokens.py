"""Transcription jobs on the token-billed models: the same pipeline, the same exact token bill (issue 15).

Real Redis, moto S3 and a worker process; the fake OpenAI's usage object is what the job must bill.
"""

from __future__ import annotations

from decimal import Decimal

import boto3
import httpx

from ..audio_samples import make_wav
from ..fakes import DEFAULT_TRANSCRIPT, transcription_token_usage
from .conftest import BUCKET, wait_for_status

PROMPT = "Zürich, Genève & São Paulo"


def submit(http: httpx.Client, seconds: float, **fields: str) -> httpx.Response:
    return http.post("/v1/jobs", files={"file": ("call.wav", make_wav(seconds), "audio/wav")}, data=fields)


def test_a_gpt_4o_transcribe_job_bills_the_tokens_openai_reported(alice, fake_openai):
    response = submit(alice, 3.0, model="gpt-4o-transcribe", prompt=PROMPT, **{"include[]": "logprobs"})
    assert response.status_code == 202, response.text
    done = wait_for_status(alice, response.json()["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    reported = transcription_token_usage(DEFAULT_TRANSCRIPT, PROMPT, 3.0)
    details = reported["input_token_details"]
    lines = {line["unit"]: line for line in done["usage"]["lines"]}
    assert {unit: line["quantity"] for unit, line in lines.items()} == {
        "audio_input_token": str(details["audio_tokens"]), "input_token": str(details["text_tokens"]),
        "output_token": str(reported["output_tokens"])}
    cost = (details["audio_tokens"] * 6 + details["text_tokens"] * Decimal("2.5") + reported["output_tokens"] * 10) / \
        Decimal(1_000_000)
    assert Decimal(done["usage"]["cost_usd"]) == cost
    assert not any(line["estimated"] for line in lines.values())
    assert done["usage"]["model_served"] == "openai/gpt-4o-transcribe"
    body = httpx.get(done["result"]["url"]).json()
    assert body["usage"] == reported and [lp["token"] for lp in body["logprobs"]] == DEFAULT_TRANSCRIPT.split()
    assert fake_openai.requests[0].form["prompt"] == PROMPT


def test_a_diarized_job_keeps_its_speakers(alice):
    response = submit(alice, 2.0, model="gpt-4o-transcribe-diarize", response_format="diarized_json")
    assert response.status_code == 202, response.text
    done = wait_for_status(alice, response.json()["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    assert done["result"]["content_type"].startswith("application/json")
    body = httpx.get(done["result"]["url"]).json()
    assert [s["speaker"] for s in body["segments"]] == ["A", "B"] and body["usage"]["type"] == "tokens"


def test_a_long_diarize_job_without_chunking_is_refused_before_queueing(alice, fake_openai):
    response = submit(alice, 31.0, model="gpt-4o-transcribe-diarize")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "chunking_strategy"
    assert fake_openai.hits == 0


def test_a_file_url_job_takes_the_new_fields_too(alice, s3_server, fake_openai):
    s3 = boto3.client("s3", endpoint_url=s3_server.url, region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test")
    s3.put_object(Bucket=BUCKET, Key="inbox/meeting.wav", Body=make_wav(31.0), ContentType="audio/wav")
    response = alice.post("/v1/jobs", json={
        "model": "gpt-4o-transcribe-diarize", "file_url": f"s3://{BUCKET}/inbox/meeting.wav",
        "response_format": "diarized_json", "chunking_strategy": {"type": "server_vad", "threshold": 0.5}})
    assert response.status_code == 202, response.text
    done = wait_for_status(alice, response.json()["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    sent = fake_openai.requests[0].form
    assert (sent["chunking_strategy[type]"], sent["chunking_strategy[threshold]"]) == ("server_vad", "0.5")
    assert httpx.get(done["result"]["url"]).json()["segments"][0]["speaker"] == "A"


def test_a_file_url_job_with_a_malformed_chunking_strategy_is_refused(alice):
    response = alice.post("/v1/jobs", json={"model": "gpt-4o-transcribe", "file_url": f"s3://{BUCKET}/inbox/x.wav",
                                            "chunking_strategy": {"type": "client_vad"}})
    assert response.status_code == 400 and response.json()["error"]["param"] == "chunking_strategy"
