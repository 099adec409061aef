"""With no client keys (open, loopback-only mode) the console is open as /v1 is, but changes still need a
session's CSRF token."""

from __future__ import annotations

import httpx
import pytest

from ..conftest import provider_env
from ..support.server_thread import GatewayServer


@pytest.fixture(scope="module")
def open_gateway(fake_openai, fake_siliconflow):
    env = provider_env(fake_openai, fake_siliconflow)
    env.pop("AUDIO_GATEWAY_API_KEYS")
    server = GatewayServer(env).start()
    yield server
    server.stop()


def test_the_console_is_open_but_changes_need_a_session_token(open_gateway):
    url = open_gateway.url
    who = httpx.get(f"{url}/console/api/session").json()
    assert who["open_mode"] is True and who["key"] is None and who["csrf_token"] is None
    assert httpx.get(f"{url}/console/api/overview").status_code == 200
    sessionless = httpx.post(f"{url}/console/api/keys", json={"name": "first"})
    assert sessionless.status_code == 403 and sessionless.json()["error"]["code"] == "csrf_token_invalid"
    signed = httpx.post(f"{url}/console/session", json={})
    assert signed.status_code == 200 and signed.json()["open_mode"] is True
    cookie = {"cookie": signed.headers["set-cookie"].split(";", 1)[0]}
    token = signed.json()["csrf_token"]
    refused = httpx.post(f"{url}/console/api/keys", headers=cookie, json={"name": "first"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_token_invalid"
    made = httpx.post(f"{url}/console/api/keys", headers={**cookie, "x-csrf-token": token}, json={"name": "first"})
    assert made.status_code == 201, made.text
