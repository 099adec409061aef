"""A provider that fails opens its circuit: the console shows it open, the fallback it caused, and the
request's two attempts, as the gateway recorded them (breakers on, one failure opens one for 10 minutes)."""

from __future__ import annotations

import time

import httpx
import pytest

from ..conftest import CLIENT_KEYS, provider_env
from ..fakes.faults import Fault
from ..support.server_thread import GatewayServer
from .conftest import ADMIN


@pytest.fixture(scope="module")
def tripping_gateway(fake_openai, fake_siliconflow):
    env = provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_ADMIN_KEYS=f"{ADMIN[0]}:{ADMIN[1]}",
                       AUDIO_GATEWAY_CIRCUIT_BREAKER="on", AUDIO_GATEWAY_BREAKER_THRESHOLD="1",
                       AUDIO_GATEWAY_BREAKER_COOLDOWN="600", AUDIO_GATEWAY_LEDGER_FLUSH_INTERVAL="0.05")
    server = GatewayServer(env).start()
    yield server
    server.stop()


def test_an_open_circuit_and_the_fallback_it_caused(tripping_gateway, fake_openai, browser, artefacts):
    url = tripping_gateway.url
    fake_openai.inject(Fault.HTTP_503, times=1, path="/v1/audio/speech")
    spoken = httpx.post(f"{url}/v1/audio/speech", headers={"Authorization": f"Bearer {CLIENT_KEYS['bob']}"},
                        json={"model": "tts-1", "voice": "alloy", "input": "The first provider is down."}, timeout=10)
    assert spoken.status_code == 200 and spoken.headers["x-gateway-provider"] == "siliconflow"
    request_id = spoken.headers["x-request-id"]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN[1]}"}, timeout=10) as admin:
        deadline = time.monotonic() + 10
        while admin.get(f"/console/api/requests/{request_id}").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        row = admin.get(f"/console/api/requests/{request_id}").json()
        providers = {p["name"]: p for p in admin.get("/console/api/providers").json()["data"]}
        ready = admin.get("/readyz").json()["providers"]
        overview = admin.get("/console/api/overview", params={"range": "hour"}).json()
    assert [(a["provider"], a["outcome"]) for a in row["attempt_outcomes"]] == [("openai", "status"), ("siliconflow", "ok")]
    shown, told = providers["openai"]["circuit"], ready["openai"]["circuit"]
    assert shown["state"] == told["state"] == "open" and shown["last_failure"] == told["last_failure"]
    assert shown["consecutive_failures"] == told["consecutive_failures"] == 1
    assert 590 < shown["retry_in_seconds"] <= 600
    assert providers["openai"]["attempts"] == {"status": 1} and providers["siliconflow"]["attempts"] == {"ok": 1}
    assert overview["totals"]["fallbacks"] == 1 and overview["totals"]["requests"] == 1

    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{url}/console#/providers")
        page.fill("#login-key", ADMIN[1])
        page.click("#login-submit")
        page.wait_for_selector("body[data-ready=providers]")
        circuit = page.text_content("tr[data-provider='openai'] td[data-field=circuit]")
        assert circuit.startswith("open") and "retry in" in circuit and ready["openai"]["circuit"]["last_failure"] in circuit
        assert page.text_content("tr[data-provider='siliconflow'] td[data-field=circuit]").startswith("closed")
        page.screenshot(path=str(artefacts / "providers-circuit-open.png"), full_page=True)
        page.goto(f"{url}/console#/requests/{request_id}")
        page.wait_for_selector(f"#request-detail[data-request-id='{request_id}']")
        outcomes = page.eval_on_selector_all("#request-detail tr[data-attempt] td[data-field=outcome]", "els => els.map(e => e.textContent)")
        assert outcomes == ["status", "ok"]
    finally:
        context.close()
