"""Jobs on a key's budget: reserved at submission (API process), settled by the worker when the job ends.

The gateway and the worker share the limit store (Redis) and the ledger (one SQLite file), as replicas
and workers would in production.
"""

from __future__ import annotations

import time
from contextlib import closing
from decimal import Decimal

import httpx
import pytest

from ..fakes import Fault
from ..support.server_thread import GatewayServer
from ..support.services import WorkerProcess
from .conftest import jobs_env, wait_for_status

ADMIN = ("ops", "sk-gw-ops-jobs-77c1d0")
SPEECH = {"model": "tts-1", "input": "hello world", "voice": "alloy"}
COST = Decimal("0.000165")


@pytest.fixture(scope="module")
def budget_gateway(fake_openai, fake_siliconflow, redis_server, s3_server, tmp_path_factory):
    directory = tmp_path_factory.mktemp("job-budgets")
    env = jobs_env(fake_openai, fake_siliconflow, redis_server, s3_server, db=12,
                   AUDIO_GATEWAY_REDIS_URL=redis_server.url(13), AUDIO_GATEWAY_ADMIN_KEYS=f"{ADMIN[0]}:{ADMIN[1]}",
                   AUDIO_GATEWAY_DATABASE_URL=f"sqlite:///{directory / 'ledger.db'}",
                   AUDIO_GATEWAY_LEDGER_FLUSH_INTERVAL="0.1")
    server = GatewayServer(env).start()
    worker = WorkerProcess(env, directory / "worker.log")
    yield server
    worker.stop()
    server.stop()


def _key(gateway, name: str, budget: Decimal) -> httpx.Client:
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {ADMIN[1]}"}) as admin:
        created = admin.post("/v1/gateway/keys", json={"name": name, "budget_usd": str(budget), "budget_period": "day"})
    assert created.status_code == 201
    http = httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {created.json()['secret']}"},
                        timeout=10)
    deadline = time.monotonic() + 5
    while http.get("/v1/models").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return http


def _spend(gateway, name: str) -> Decimal:
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {ADMIN[1]}"}) as admin:
        return Decimal(admin.get(f"/v1/gateway/keys/{name}").json()["spend_usd"])


def test_jobs_reserve_at_submission_and_settle_when_they_end(budget_gateway):
    with closing(_key(budget_gateway, "jobs-two", COST * 2)) as http:
        first, second, third = (http.post("/v1/jobs", json=SPEECH) for _ in range(3))
        assert [first.status_code, second.status_code, third.status_code] == [202, 202, 429]
        assert third.json()["error"]["code"] == "insufficient_quota"
        for job in (first, second):
            assert wait_for_status(http, job.json()["id"], {"completed"})["status"] == "completed"
        deadline = time.monotonic() + 5
        while _spend(budget_gateway, "jobs-two") != COST * 2:    # the worker's rows, in the shared ledger
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert http.post("/v1/jobs", json=SPEECH).status_code == 429


def test_a_failed_job_gives_its_reservation_back(budget_gateway, fake_openai):
    with closing(_key(budget_gateway, "jobs-one", COST)) as http:
        fake_openai.inject(Fault.HTTP_400)
        failing = http.post("/v1/jobs", json=SPEECH)
        assert failing.status_code == 202
        assert http.post("/v1/jobs", json=SPEECH).status_code == 429          # held while it runs
        assert wait_for_status(http, failing.json()["id"], {"failed"})["status"] == "failed"
        deadline = time.monotonic() + 5
        while (retry := http.post("/v1/jobs", json=SPEECH)).status_code == 429:   # settled at cost 0
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert retry.status_code == 202
        assert wait_for_status(http, retry.json()["id"], {"completed"})["status"] == "completed"


def test_a_job_cancelled_while_running_before_any_piece_gives_its_reservation_back(budget_gateway, fake_openai,
                                                                                  fake_siliconflow):
    """No piece was produced, so no row settles the hold: the worker releases it when the cancel reaches it."""
    with closing(_key(budget_gateway, "jobs-cancel", COST)) as http:
        for fake in (fake_openai, fake_siliconflow):   # the first job gets no audio, from either provider
            fake.inject(Fault.HANG, times=1)
        try:
            running = http.post("/v1/jobs", json=SPEECH)
            assert running.status_code == 202
            fake_openai.wait_for_requests(1)                                   # in progress, upstream
            assert http.post("/v1/jobs", json=SPEECH).status_code == 429        # its hold is the whole budget
            assert http.delete(f"/v1/jobs/{running.json()['id']}").json()["status"] == "cancelled"
            deadline = time.monotonic() + 10                                   # the worker sees the abort (SAQ polls)
            while (retry := http.post("/v1/jobs", json=SPEECH)).status_code == 429:   # released, nothing spent
                assert time.monotonic() < deadline, "the cancelled job's reservation was kept"
                time.sleep(0.1)
        finally:
            fake_openai.release()
            fake_siliconflow.release()
        assert retry.status_code == 202
        assert wait_for_status(http, retry.json()["id"], {"completed"})["status"] == "completed"
        assert wait_for_status(http, running.json()["id"], {"cancelled"})["status"] == "cancelled"
