"""Shared servers, started once per session: fake providers and the gateway under test, all on loopback."""

from __future__ import annotations

import httpx
import openai
import pytest

from .fakes import FakeOpenAI, FakeSiliconFlow
from .support.server_thread import GatewayServer
from .support.services import PostgresServer, RedisServer

OPENAI_KEY = "sk-provider-openai-SECRET-0123456789"
SILICONFLOW_KEY = "sk-provider-siliconflow-SECRET-9876543210"
CLIENT_KEYS = {"alice": "sk-gw-alice-7f3a9c", "bob": "sk-gw-bob-41d2e8"}
SERVER_SECRET = "test-server-secret-0123456789abcdef-not-for-production"


@pytest.fixture(scope="session")
def fake_openai():
    with FakeOpenAI.start(api_key=OPENAI_KEY) as fake:
        yield fake


@pytest.fixture(scope="session")
def fake_siliconflow():
    with FakeSiliconFlow.start(api_key=SILICONFLOW_KEY) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _reset_fakes(request):
    """Every test starts with healthy fakes and an empty request log."""
    yield
    for name in ("fake_openai", "fake_siliconflow"):
        if name in request.fixturenames:
            request.getfixturevalue(name).reset()


def provider_env(fake_openai, fake_siliconflow, **overrides: str) -> dict[str, str]:
    env = {
        "OPENAI_BASE_URL": fake_openai.url,
        "OPENAI_API_KEY": OPENAI_KEY,
        "SILICONFLOW_BASE_URL": fake_siliconflow.url,
        "SILICONFLOW_API_KEY": SILICONFLOW_KEY,
        "AUDIO_GATEWAY_UPSTREAM_TIMEOUT": "0.5",
        # Tests inject failures back to back into one shared gateway; breaker behaviour has its own tests.
        "AUDIO_GATEWAY_CIRCUIT_BREAKER": "off",
        "AUDIO_GATEWAY_API_KEYS": ",".join(f"{name}:{key}" for name, key in CLIENT_KEYS.items()),
        # Cloud routing exactly as written before the local provider: its own tests (tests/local/) switch it on.
        "AUDIO_GATEWAY_LOCAL": "off",
        "AUDIO_GATEWAY_SECRET_KEY": SERVER_SECRET,  # owner ids; without it the gateway would write ./data/secret_key
    }
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def gateway(fake_openai, fake_siliconflow):
    server = GatewayServer(provider_env(fake_openai, fake_siliconflow)).start()
    yield server
    server.stop()


def keyed_client(url: str, name: str) -> httpx.Client:
    """Raw HTTP to the gateway as one of the configured client keys."""
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {CLIENT_KEYS[name]}"}, timeout=10)


@pytest.fixture
def client(gateway):
    with keyed_client(gateway.url, "alice") as http:
        yield http


@pytest.fixture
def sdk(gateway):
    """The official OpenAI SDK, unmodified except for base_url. No retries, so each call is one request."""
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEYS["alice"], max_retries=0, timeout=10) as c:
        yield c
