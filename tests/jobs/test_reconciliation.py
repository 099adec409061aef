"""The books balance (issue 11): a few hundred mixed requests and jobs, and what the clients were told
equals what the ledger holds equals what the Usage and Costs API answers, to the last decimal place.

Every billing unit, non-ASCII input, fallbacks, failures, client disconnects mid-stream, SSE and raw
gpt-4o-mini-tts (whose cost settles after the headers), and jobs run by a worker process that shares the
gateway's ledger (one SQLite file). One real gateway, one worker, Redis, moto S3 and the fakes on loopback.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest

from ..audio_samples import make_wav
from ..conftest import CLIENT_KEYS
from ..fakes import Fault
from ..support.server_thread import GatewayServer
from ..support.services import WorkerProcess
from .conftest import jobs_env, wait_for_status

ADMIN = "sk-gw-ops-reconcile-0d2c"
TEXTS = ["Hello there.", "Grüße aus Köln — schön, dich zu hören!", "你好，世界。今天天气很好。", "🎧 Ready? Let's go…",
         "A longer sentence, so that the characters and bytes add up to something worth billing."]
TTS = ["tts-1", "tts-1-hd", "alibaba/cosyvoice2-0.5b", "fishaudio/fish-speech-1.5", "indexteam/indextts-2",
       "gpt-4o-mini-tts"]


@dataclass
class Told:
    """What one request's client was told it cost (final), and what it measured."""

    id: str
    cost: Decimal
    kind: str
    characters: int = 0
    seconds: int = 0


@pytest.fixture
def books(fake_openai, fake_siliconflow, redis_server, s3_server, tmp_path):
    env = jobs_env(fake_openai, fake_siliconflow, redis_server, s3_server, db=7,
                   AUDIO_GATEWAY_DATA_DIR=str(tmp_path / "data"), AUDIO_GATEWAY_LEDGER_FLUSH_INTERVAL="0.05",
                   AUDIO_GATEWAY_ADMIN_KEYS=f"ops:{ADMIN}")
    gateway = GatewayServer(env).start()
    worker = WorkerProcess(env, tmp_path / "worker.log")
    yield gateway
    worker.stop()
    gateway.stop()


def _settled(admin: httpx.Client, request_id: str) -> Decimal:
    """The ledger's figure for a request whose headers said the cost was not final yet."""
    deadline = time.monotonic() + 10
    while True:
        response = admin.get(f"/v1/usage/requests/{request_id}")
        if response.status_code == 200:
            return Decimal(response.json()["cost_usd"])
        assert time.monotonic() < deadline, response.text
        time.sleep(0.05)


def _speech(http: httpx.Client, admin: httpx.Client, rng: random.Random, fake_openai, fake_siliconflow) -> Told:
    model, text = rng.choice(TTS), rng.choice(TEXTS)
    primary = fake_siliconflow if "/" in model else fake_openai
    roll = rng.random()
    if roll < 0.12:
        primary.inject(Fault.HTTP_500)                           # tts-1 falls back to CosyVoice; others fail
    elif roll < 0.18:
        fake_openai.inject(Fault.HTTP_500)
        fake_siliconflow.inject(Fault.HTTP_503)                  # every target fails: a row at cost 0
    body = {"model": model, "voice": "alloy", "input": text}
    if model == "gpt-4o-mini-tts" and rng.random() < 0.5:
        body["stream_format"] = "sse"
    disconnect = rng.random() < 0.1
    if disconnect:
        body["response_format"] = "wav"
        for fake in (fake_openai, fake_siliconflow):
            fake.audio_seconds, fake.chunk_size, fake.chunk_delay = 2.0, 4096, 0.01
    try:
        with http.stream("POST", "/v1/audio/speech", json=body) as response:
            request_id = response.headers["x-request-id"]
            if response.status_code != 200:
                response.read()
                assert response.status_code in (400, 502), response.text
                return Told(request_id, Decimal(0), "tts", characters=len(text))
            final = response.headers["x-gateway-cost-final"] == "true"
            cost = Decimal(response.headers["x-gateway-cost-usd"])
            if disconnect:
                next(response.iter_raw())                        # one chunk, then hang up mid-stream
            elif body.get("stream_format") == "sse":
                done = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")][-1]
                cost, final = Decimal(done["cost_usd"]), True    # the done event carries the settled cost
            else:
                response.read()
    finally:
        for fake in (fake_openai, fake_siliconflow):
            fake.reset()  # faults a request did not reach are not left for the next one
    return Told(request_id, cost if final else _settled(admin, request_id), "tts", characters=len(text))


def _transcription(http: httpx.Client, rng: random.Random, fake_openai) -> Told:
    model = rng.choice(["whisper-1", "alibaba/sensevoice-small"])
    seconds = rng.choice([0.7, 1.3, 2.0, 3.4])
    path = "/v1/audio/translations" if model == "whisper-1" and rng.random() < 0.25 else "/v1/audio/transcriptions"
    if rng.random() < 0.1 and path.endswith("transcriptions"):
        fake_openai.inject(Fault.HTTP_503)                       # whisper-1 falls back to SenseVoice
    try:
        response = http.post(path, data={"model": model}, files={"file": ("a.wav", make_wav(seconds), "audio/wav")})
    finally:
        fake_openai.reset()
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-cost-final"] == "true"
    return Told(response.headers["x-request-id"], Decimal(response.headers["x-gateway-cost-usd"]), "stt",
                seconds=int(response.headers["x-gateway-billing-quantity"]))


def _jobs(http: httpx.Client) -> list[Told]:
    told = []
    for text in TEXTS[:3]:
        job = http.post("/v1/jobs", json={"model": "tts-1", "voice": "nova", "input": text}).json()
        done = wait_for_status(http, job["id"], {"completed", "failed"})
        assert done["status"] == "completed", done
        told.append(Told(job["id"], Decimal(done["usage"]["cost_usd"]), "tts", characters=len(text)))
    job = http.post("/v1/jobs", data={"model": "whisper-1"}, files={"file": ("m.wav", make_wav(2.2), "audio/wav")}).json()
    done = wait_for_status(http, job["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    told.append(Told(job["id"], Decimal(done["usage"]["cost_usd"]), "stt", seconds=3))
    return told


def _buckets(admin: httpx.Client, path: str, start: int) -> list[dict]:
    results, page = [], None
    while True:
        params = {"start_time": start, "bucket_width": "1d", "limit": 31, **({"page": page} if page else {})}
        body = admin.get(path, params=params).json()
        results += [result for bucket in body["data"] for result in bucket["results"]]
        if not body["has_more"]:
            return results
        page = body["next_page"]


def test_headers_ledger_and_costs_api_agree_to_the_last_digit(books, fake_openai, fake_siliconflow):
    start = int(time.time()) - 5
    rng = random.Random(11)
    key = {"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}
    with httpx.Client(base_url=books.url, headers=key, timeout=20) as http, \
            httpx.Client(base_url=books.url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=20) as admin:
        told = [(_speech(http, admin, rng, fake_openai, fake_siliconflow) if rng.random() < 0.65
                 else _transcription(http, rng, fake_openai)) for _ in range(220)]
        told += _jobs(http)
        assert len({t.id for t in told}) == len(told)

        deadline = time.monotonic() + 20
        while True:  # the writer flushes every 50 ms; wait until every request is a row
            speeches = _buckets(admin, "/v1/organization/usage/audio_speeches", start)
            transcriptions = _buckets(admin, "/v1/organization/usage/audio_transcriptions", start)
            rows = sum(r["num_model_requests"] for r in speeches + transcriptions)
            if rows >= len(told) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert rows == len(told)
        costs = _buckets(admin, "/v1/organization/costs", start)
        ledger = [admin.get(f"/v1/usage/requests/{t.id}").json() for t in told]

    expected = sum((t.cost for t in told), Decimal(0))
    assert expected > 0
    assert sum((Decimal(row["cost_usd"]) for row in ledger), Decimal(0)) == expected
    assert sum((Decimal(r["cost_usd"]) for r in costs), Decimal(0)) == expected
    assert [Decimal(row["cost_usd"]) for row in ledger] == [t.cost for t in told]   # row by row, too
    assert sum(r["characters"] for r in speeches) == sum(t.characters for t in told if t.kind == "tts")
    assert sum(r["seconds"] for r in transcriptions) == sum(t.seconds for t in told if t.kind == "stt")
    statuses = {row["status"] for row in ledger}
    assert {"completed", "failed", "client_disconnected"} <= statuses
    assert any(row["fell_back"] for row in ledger)
    assert math.isclose(sum(r["amount"]["value"] for r in costs), float(expected), rel_tol=1e-9)
