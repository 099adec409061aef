"""Jobs never pay twice for a piece and bill exactly what was made (issue 20), on the real jobs stack.

Redis, moto S3, a worker process and the fake providers over loopback: the fakes' request logs show what
the providers were asked for (and so paid), the job's usage what the client is billed.
"""

from __future__ import annotations

import io
import math
import time
import wave
from decimal import Decimal

import boto3
import httpx
import pytest

from audio_gateway.billing import count_tokens

from ..fakes import Fault
from .conftest import BUCKET, wait_for_status


def long_text(pieces: int) -> str:
    """About `pieces` pieces of at most 4,096 characters (OpenAI's limit), no two alike."""
    sentence = "Sentence {:05d} belongs to a very long chapter that no single request could carry. "
    return "".join(sentence.format(i) for i in range(pieces * 4000 // len(sentence.format(0))))


def submit(http: httpx.Client, **body) -> str:
    response = http.post("/v1/jobs", json={"voice": "alloy", "response_format": "wav", **body})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def piece_objects(s3_server, job_id: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=s3_server.url, region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test")
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="test/")
    return sorted(o["Key"] for o in listing.get("Contents", []) if f"/{job_id}/pieces/" in o["Key"])


def test_gpt4o_mini_tts_jobs_bill_the_tokens_the_provider_reported(alice, fake_openai):
    text = "A job for the steerable model."
    done = wait_for_status(alice, submit(alice, model="gpt-4o-mini-tts", input=text, instructions="calmly"),
                           {"completed", "failed"})
    assert done["status"] == "completed", done
    assert fake_openai.requests[0].json["stream_format"] == "sse"
    input_tokens = count_tokens(text, "o200k_base") + count_tokens("calmly", "o200k_base")
    output_tokens = math.ceil(fake_openai.audio_seconds * 20)
    lines = {line["unit"]: line for line in done["usage"]["lines"]}
    assert (lines["input_token"]["quantity"], lines["output_token"]["quantity"]) == (str(input_tokens), str(output_tokens))
    cost = (Decimal(input_tokens) * Decimal("0.60") + Decimal(output_tokens) * 12) / 1_000_000
    assert Decimal(done["usage"]["cost_usd"]) == cost
    assert not any(line["estimated"] for line in lines.values())


def test_a_job_prices_the_same_text_exactly_as_the_sync_endpoint(alice, fake_openai):
    text = "  Same text, both ways:   café, 世界.  "
    sync = alice.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": text})
    done = wait_for_status(alice, submit(alice, model="tts-1", input=text), {"completed", "failed"})
    assert Decimal(done["usage"]["cost_usd"]) == Decimal(sync.headers["x-gateway-cost-usd"])
    assert done["usage"]["lines"][0]["quantity"] == sync.headers["x-gateway-billing-quantity"] == str(len(text))


def test_a_job_whose_pieces_cannot_be_stitched_fails_at_once_and_pays_each_piece_once(alice, fake_openai):
    fake_openai.speech_body = b"RIFF\x10\x00\x00\x00WAVEjunk that no decoder accepts"
    started = time.monotonic()
    done = wait_for_status(alice, submit(alice, model="tts-1-hd", input=long_text(3)), {"completed", "failed"})
    assert done["status"] == "failed"
    assert done["error"]["code"] == "stitch_failed" and "could not be joined" in done["error"]["message"]
    assert time.monotonic() - started < 10
    time.sleep(1.0)  # longer than the retry delay: a retry would have asked again by now
    inputs = [r.json["input"] for r in fake_openai.requests]
    assert len(inputs) == len(set(inputs)) == done["usage"]["pieces"] >= 3
    assert done["usage"]["pieces_billed"] == len(inputs)  # what was made is billed, even though it failed
    assert Decimal(done["usage"]["cost_usd"]) > 0


def test_a_retry_after_an_outage_requests_only_the_pieces_it_lacked(alice, fake_openai):
    fake_openai.inject(Fault.HTTP_500, times=1)  # tts-1-hd has no fallback: the attempt fails, SAQ retries it
    done = wait_for_status(alice, submit(alice, model="tts-1-hd", input=long_text(3)), {"completed", "failed"})
    assert done["status"] == "completed", done
    inputs = [r.json["input"] for r in fake_openai.requests]
    pieces = done["usage"]["pieces"]
    assert len(set(inputs)) == pieces >= 3
    assert len(inputs) == pieces + 1  # only the piece that hit the outage was asked for twice
    assert done["usage"]["pieces_billed"] == pieces


def test_a_fallback_mid_job_is_stitched_and_each_piece_billed_on_the_model_that_served_it(alice, fake_openai,
                                                                                          fake_siliconflow):
    fake_openai.audio_seconds = fake_siliconflow.audio_seconds = 0.4
    fake_openai.inject(Fault.HTTP_500, times=None, after=2)  # OpenAI fails after two pieces
    done = wait_for_status(alice, submit(alice, model="tts-1", input=long_text(4)), {"completed", "failed"})
    assert done["status"] == "completed", done
    pieces = done["usage"]["pieces"]
    served = {line["model"]: line for line in done["usage"]["lines"]}
    assert set(served) == {"openai/tts-1", "alibaba/cosyvoice2-0.5b"}
    assert served["openai/tts-1"]["unit"] == "character"
    assert served["alibaba/cosyvoice2-0.5b"]["unit"] == "utf8_byte"
    assert len(fake_siliconflow.requests) == pieces - 2
    assert Decimal(done["usage"]["cost_usd"]) == sum(Decimal(line["cost_usd"]) for line in served.values())
    data = httpx.get(done["result"]["url"]).content
    with wave.open(io.BytesIO(data)) as wav:  # one WAV of every piece, whatever provider made it
        assert wav.getframerate() == 24000
        assert wav.getnframes() / wav.getframerate() == pytest.approx(0.4 * pieces, abs=0.05)


def test_a_job_cancelled_half_way_bills_exactly_the_pieces_that_were_synthesised(alice, fake_openai, s3_server):
    fake_openai.audio_seconds, fake_openai.chunk_size, fake_openai.chunk_delay = 0.4, 4096, 0.25
    job_id = submit(alice, model="tts-1-hd", input=long_text(12))
    deadline = time.monotonic() + 20
    while alice.get(f"/v1/jobs/{job_id}").json()["progress"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert alice.delete(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"
    deadline = time.monotonic() + 10
    settled = alice.get(f"/v1/jobs/{job_id}").json()
    while len(piece_objects(s3_server, job_id)) != (settled["usage"] or {}).get("pieces_billed"):
        assert time.monotonic() < deadline, (settled["usage"], piece_objects(s3_server, job_id))
        time.sleep(0.1)
        settled = alice.get(f"/v1/jobs/{job_id}").json()
    usage = settled["usage"]
    assert settled["status"] == "cancelled"
    assert 0 < usage["pieces_billed"] < usage["pieces"] == 12
    (line,) = usage["lines"]
    assert Decimal(usage["cost_usd"]) == Decimal(line["quantity"]) * 30 / 1_000_000 > 0
