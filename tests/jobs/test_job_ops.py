"""Operations in job workers (real `audio-gateway worker` processes): `--metrics-port`, job spans exported
over OTLP and linked to the request that submitted the job, and catalog reload on SIGHUP."""

from __future__ import annotations

import shutil
import signal
import time
from types import SimpleNamespace

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id

from audio_gateway.observability.telemetry import Telemetry
from audio_gateway.settings import Settings

from ..conftest import CLIENT_KEYS
from ..observability.mix import labels, of, scrape
from ..support.otlp import OtlpReceiver
from ..support.server_thread import CATALOG_DIR, GatewayServer
from ..support.services import WorkerProcess, free_port
from .conftest import jobs_env, wait_for_status

AUTH = {"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}
ADMIN = "sk-gw-admin-jobs-9"
CLIENT_TRACE = "5a1f0e2b3c4d5e6f708192a3b4c5d6e7"
TRACEPARENT = f"00-{CLIENT_TRACE}-1122334455667788-01"
SPEECH = {"model": "tts-1", "voice": "alloy", "input": "A job, traced and counted.", "response_format": "mp3"}
EXTRA_MODEL = """models:
  - id: openai/tts-1-for-jobs
    kind: tts
    provider: openai
    upstream_model: tts-1
    voices: openai
    capabilities: {response_formats: [mp3], max_input_chars: 4096}
    billing: [{unit: character, price_usd: 50, per: 1000000}]
"""


@pytest.fixture(scope="module")
def ops(fake_openai, fake_siliconflow, redis_server, s3_server, tmp_path_factory):
    """An in-process API gateway (spans to memory) and a worker process (spans over OTLP, metrics on a port),
    on their own Redis database and a catalog copy a test may edit; shared by this module's tests, which
    therefore compare the metrics before and after what they do."""
    tmp_path = tmp_path_factory.mktemp("job-ops")
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, catalog)
    receiver = OtlpReceiver()
    port = free_port()
    env = jobs_env(fake_openai, fake_siliconflow, redis_server, s3_server, db=7, AUDIO_GATEWAY_CATALOG=str(catalog),
                   AUDIO_GATEWAY_ADMIN_KEYS=f"ops:{ADMIN}")
    api_spans = InMemorySpanExporter()
    gateway = GatewayServer(env, catalog_dir=catalog,
                            telemetry=Telemetry(Settings.from_env(env), span_exporter=api_spans)).start()
    worker_env = {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100",
                  "OTEL_SERVICE_NAME": "audio-gateway-worker"}
    worker = WorkerProcess(worker_env, tmp_path / "worker.log", args=("--metrics-port", str(port)))
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    deadline = time.monotonic() + 20
    while True:
        try:
            scrape(metrics_url)
            break
        except httpx.HTTPError:
            assert worker.process.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the worker's metrics port never answered"
            time.sleep(0.1)
    yield SimpleNamespace(gateway=gateway, worker=worker, receiver=receiver, api_spans=api_spans, catalog=catalog,
                          metrics_url=metrics_url, log=tmp_path / "worker.log")
    worker.stop()
    gateway.stop()
    receiver.stop()


def _submit(ops, body: dict) -> dict:
    with httpx.Client(base_url=ops.gateway.url, headers={**AUTH, "traceparent": TRACEPARENT}, timeout=10) as http:
        response = http.post("/v1/jobs", json=body)
        assert response.status_code == 202, response.text
        return wait_for_status(http, response.json()["id"], {"completed", "failed"})


def _delta(after: dict, before: dict) -> dict:
    return {key: value - before.get(key, 0.0) for key, value in after.items() if value != before.get(key, 0.0)}


def test_a_job_is_counted_by_its_worker_and_traced_with_a_link_to_its_submission(ops):
    before = scrape(ops.metrics_url)
    before_submit = time.time_ns()
    job = _submit(ops, SPEECH)
    assert job["status"] == "completed", job

    # Metrics, on the worker's own port: exactly this job's.
    metrics = scrape(ops.metrics_url)
    served = labels(endpoint="jobs", model="openai/tts-1", provider="openai", status="completed")

    def change(name: str) -> dict:
        return _delta(of(metrics, name), of(before, name))

    assert change("audio_gateway_requests_total") == {served: 1.0}
    assert change("audio_gateway_upstream_attempts_total") == {labels(provider="openai", outcome="ok"): 1.0}
    assert change("audio_gateway_billed_units_total") == {
        labels(model="openai/tts-1", unit="character"): float(len(SPEECH["input"]))}
    assert change("audio_gateway_cost_usd_total") == {
        labels(model="openai/tts-1", provider="openai"): pytest.approx(float(job["usage"]["cost_usd"]))}
    assert of(metrics, "audio_gateway_jobs") == {labels(status="queued"): 0.0, labels(status="in_progress"): 0.0}
    assert change("audio_gateway_request_duration_seconds_count") == {labels(endpoint="jobs", model="openai/tts-1"): 1.0}
    assert list(of(metrics, "audio_gateway_catalog_info").values()).count(1.0) == 1
    assert of(scrape(f"{ops.gateway.url}/metrics", {"Authorization": f"Bearer {ADMIN}"}),
              "audio_gateway_jobs") == {labels(status="queued"): 0.0, labels(status="in_progress"): 0.0}

    # The submission: a SERVER span in the client's trace (API process, in memory).
    (submitted,) = [s for s in ops.api_spans.get_finished_spans()
                    if s.kind == SpanKind.SERVER and s.attributes["http.route"] == "/v1/jobs"
                    and s.attributes["http.request.method"] == "POST"
                    and s.end_time and s.start_time >= before_submit]
    assert format_trace_id(submitted.context.trace_id) == CLIENT_TRACE
    # The run: a CONSUMER span of its own trace (worker process, over OTLP), linked to the submission, with the
    # attempt as its child and the ledger row's facts.
    def this_run(spans: list) -> list:
        return [s for s in spans if s.kind == 5 and s.attributes.get("audio_gateway.job.id") == job["id"]
                and "audio_gateway.status" in s.attributes]           # SPAN_KIND_CONSUMER, ended

    spans = ops.receiver.wait_for(lambda spans: this_run(spans) and any(
        s.kind == 3 and s.parent_span_id == this_run(spans)[0].span_id for s in spans))
    (run,) = this_run(spans)
    (attempt,) = [s for s in spans if s.kind == 3 and s.parent_span_id == run.span_id]   # SPAN_KIND_CLIENT
    assert run.name == "job text_to_speech openai/tts-1" and run.service == "audio-gateway-worker"
    assert run.links == [(CLIENT_TRACE, format_span_id(submitted.context.span_id))]
    assert run.trace_id != CLIENT_TRACE and not run.parent_span_id
    assert attempt.trace_id == run.trace_id and attempt.parent_span_id == run.span_id
    assert attempt.attributes["gen_ai.provider.name"] == "openai" and attempt.attributes["audio_gateway.outcome"] == "ok"
    assert run.attributes["audio_gateway.job.id"] == job["id"]
    assert run.attributes["audio_gateway.status"] == "completed"
    assert run.attributes["audio_gateway.cost_usd"] == job["usage"]["cost_usd"]
    assert run.attributes["gen_ai.response.model"] == "openai/tts-1"


def test_a_running_job_shows_as_in_progress(ops, fake_openai):
    fake_openai.audio_seconds, fake_openai.chunk_size, fake_openai.chunk_delay = 2.0, 2048, 0.05
    with httpx.Client(base_url=ops.gateway.url, headers=AUTH, timeout=10) as http:
        job = http.post("/v1/jobs", json=SPEECH).json()
        deadline = time.monotonic() + 10
        while of(scrape(ops.metrics_url), "audio_gateway_jobs").get(labels(status="in_progress")) != 1.0:
            assert time.monotonic() < deadline, "the running job never showed as in progress"
            time.sleep(0.02)
        assert wait_for_status(http, job["id"], {"completed", "failed"})["status"] == "completed"


def test_sighup_makes_a_worker_serve_an_edited_catalog(ops):
    (ops.catalog / "models" / "extra.yaml").write_text(EXTRA_MODEL)
    assert ops.gateway.reload()                              # the API accepts the new model at once
    before = of(scrape(ops.metrics_url), "audio_gateway_catalog_info")
    ops.worker.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while of(scrape(ops.metrics_url), "audio_gateway_catalog_info") == before:
        assert time.monotonic() < deadline, ops.log.read_text()[-2000:]
        time.sleep(0.05)
    job = _submit(ops, {**SPEECH, "model": "openai/tts-1-for-jobs"})
    assert job["status"] == "completed", job
    assert job["usage"]["model_served"] == "openai/tts-1-for-jobs"
    assert "catalog reload (SIGHUP): now serving version" in ops.log.read_text()
