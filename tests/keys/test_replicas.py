"""One limit across processes: two gateways, and `serve --workers 2`, sharing Redis and PostgreSQL.

Budgets hold however the requests are spread (at most ten of fifty succeed on a budget for ten, and
the ledger in PostgreSQL says the same); a key made or revoked on one replica is honoured on the other
within 5 s.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from ..conftest import provider_env
from ..support.services import GatewayProcess
from .test_gateway_keys import ADMIN, SPEECH, SPEECH_COST, wait_for


@pytest.fixture(scope="module")
def shared_env(fake_openai, fake_siliconflow, postgres_server, redis_server):
    database = postgres_server.create_database("replicas")
    redis_url = redis_server.url(14)
    return provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_DATABASE_URL=database,
                        AUDIO_GATEWAY_REDIS_URL=redis_url, AUDIO_GATEWAY_ADMIN_KEYS=f"{ADMIN[0]}:{ADMIN[1]}",
                        AUDIO_GATEWAY_LEDGER_FLUSH_INTERVAL="0.1", AUDIO_GATEWAY_LOG_LEVEL="WARNING")


@pytest.fixture(scope="module")
def two_gateways(shared_env, tmp_path_factory):
    logs = tmp_path_factory.mktemp("replicas")
    first = GatewayProcess(shared_env, logs / "a.log")
    second = GatewayProcess(shared_env, logs / "b.log")
    yield first, second
    first.stop()
    second.stop()


def _admin(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN[1]}"}, timeout=10)


def _create(url: str, **body) -> str:
    with _admin(url) as admin:
        response = admin.post("/v1/gateway/keys", json=body)
    assert response.status_code == 201, response.text
    return response.json()["secret"]


def _accepted(url: str, secret: str) -> bool:
    return httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def _burst(urls: list[str], secret: str, n: int = 50) -> list[int]:
    async def go() -> list[int]:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {secret}"}, timeout=30,
                                     limits=httpx.Limits(max_connections=n)) as http:
            responses = await asyncio.gather(*[http.post(f"{urls[i % len(urls)]}/v1/audio/speech", json=SPEECH)
                                               for i in range(n)])
        return [r.status_code for r in responses]
    return asyncio.run(go())


def _spend(url: str, name: str) -> Decimal:
    with _admin(url) as admin:
        return Decimal(admin.get(f"/v1/gateway/keys/{name}").json()["spend_usd"])


def test_two_gateways_enforce_one_budget(two_gateways):
    a, b = two_gateways
    budget = SPEECH_COST * 10
    secret = _create(a.url, name="shared-ten", budget_usd=str(budget), budget_period="day")
    wait_for(lambda: _accepted(a.url, secret) and _accepted(b.url, secret))    # made on A, seen on B
    statuses = _burst([a.url, b.url], secret)
    assert statuses.count(200) == 10 and statuses.count(429) == 40
    wait_for(lambda: _spend(b.url, "shared-ten") == budget)                    # the PostgreSQL ledger agrees


def test_two_gateways_share_one_rate_limit_and_see_a_revocation(two_gateways):
    a, b = two_gateways
    secret = _create(b.url, name="shared-rpm", rpm=6)
    wait_for(lambda: _accepted(a.url, secret) and _accepted(b.url, secret))
    statuses = _burst([a.url, b.url], secret, n=12)
    assert statuses.count(200) == 6 and statuses.count(429) == 6   # /v1/models only reads the buckets
    with _admin(a.url) as admin:
        assert admin.delete("/v1/gateway/keys/shared-rpm").status_code == 200
    wait_for(lambda: httpx.get(f"{b.url}/v1/models", headers={"Authorization": f"Bearer {secret}"}).status_code == 401)


def test_serve_with_two_workers_enforces_one_budget(shared_env, tmp_path):
    gateway = GatewayProcess(shared_env, tmp_path / "workers.log", args=("--workers", "2"))
    try:
        budget = SPEECH_COST * 10
        secret = _create(gateway.url, name="workers-ten", budget_usd=str(budget), budget_period="day")
        wait_for(lambda: all(_accepted(gateway.url, secret) for _ in range(4)))  # both workers have it
        statuses = _burst([gateway.url], secret)
        assert statuses.count(200) == 10 and statuses.count(429) == 40
        wait_for(lambda: _spend(gateway.url, "workers-ten") == budget)
    finally:
        gateway.stop()


def test_workers_without_redis_warn_that_limits_are_per_process(fake_openai, fake_siliconflow, tmp_path):
    env = provider_env(fake_openai, fake_siliconflow)
    gateway = GatewayProcess(env, tmp_path / "warn.log", args=("--workers", "2"))
    gateway.stop()
    assert "budgets and rate limits are enforced by each process on its own" in (tmp_path / "warn.log").read_text()
