"""Jobs are routed like sync requests: once per job, so every piece tries the same targets (issue 16).

The real jobs stack (Redis, moto S3, a worker process) and the fake providers on loopback.
"""

from __future__ import annotations

import pytest

from audio_gateway.jobs.books import job_row
from audio_gateway.jobs.model import JobRecord, SpeechJob
from audio_gateway.speech import SpeechRequest

from ..audio_samples import make_wav
from .conftest import wait_for_status

CHINESE = "今天天气很好，我们去公园散步吧。你觉得怎么样？"


def test_a_chinese_speech_job_to_tts1_is_made_by_cosyvoice_in_every_piece(alice, fake_openai, fake_siliconflow):
    fake_siliconflow.audio_seconds = 0.2
    text = CHINESE * 200  # 4,800 characters: two pieces of at most tts-1's 4,096
    response = alice.post("/v1/jobs", json={"model": "tts-1", "voice": "alloy", "input": text, "response_format": "mp3"})
    assert response.status_code == 202, response.text
    done = wait_for_status(alice, response.json()["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    assert done["route"] == "content:cjk>=0.3"
    assert done["usage"]["pieces"] == 2 and done["usage"]["model_served"] == "alibaba/cosyvoice2-0.5b"
    assert [(line["unit"], line["quantity"]) for line in done["usage"]["lines"]] == [("utf8_byte", str(len(text.encode())))]
    assert len(fake_siliconflow.requests) == 2 and not fake_openai.requests


@pytest.mark.parametrize("language, route, model", [
    ("zh", "content:language=zh,yue,ja,ko", "alibaba/sensevoice-small"),
    ("en", "cheapest", "openai/whisper-1"),
])
def test_a_transcription_job_to_auto_transcribe_records_its_route(alice, language, route, model):
    response = alice.post("/v1/jobs", data={"model": "auto-transcribe", "language": language},
                          files={"file": ("call.wav", make_wav(1.0), "audio/wav")})
    assert response.status_code == 202, response.text
    done = wait_for_status(alice, response.json()["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    assert (done["route"], done["usage"]["model_served"]) == (route, model)


def test_a_jobs_ledger_row_carries_the_route_kept_on_its_record():
    record = JobRecord(id="job_1", owner="alice", kind="tts", model="openai/tts-1", created_at=1, completed_at=2,
                       request=SpeechJob(SpeechRequest(model="tts-1", input=CHINESE, voice="alloy")),
                       route="content:cjk>=0.3")
    assert job_row(record, status="failed", http_status=502).route == "content:cjk>=0.3"
