"""Database keys through a real gateway (uvicorn on loopback, the in-process limit store, an injected clock).

The HTTP key API, allowed models, budgets (50 at once on a budget for ten), rate limits and their
headers, the 429 bodies pinned with syrupy, and changes seen within 5 s without a restart.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import openai
import pytest

from ..audio_samples import make_wav
from ..conftest import CLIENT_KEYS, provider_env
from ..fakes import Fault
from ..support.server_thread import GatewayServer
from .conftest import Clock

ADMIN = ("ops", "sk-gw-ops-admin-5b7e21")
SPEECH = {"model": "tts-1", "input": "hello world", "voice": "alloy"}
SPEECH_COST = Decimal("0.000165")          # tts-1: 11 characters at $15 / 1M
VOLATILE = ("created_at", "last_used_at", "period_start", "resets_at", "secret")


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def keyed(fake_openai, fake_siliconflow, clock):
    env = provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_ADMIN_KEYS=f"{ADMIN[0]}:{ADMIN[1]}",
                       AUDIO_GATEWAY_LEDGER_FLUSH_INTERVAL="0.1")
    server = GatewayServer(env, clock=clock).start()
    yield server
    server.stop()


@pytest.fixture
def admin(keyed):
    with httpx.Client(base_url=keyed.url, headers={"Authorization": f"Bearer {ADMIN[1]}"}, timeout=10) as http:
        yield http


def as_key(gateway, secret: str) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {secret}"}, timeout=10)


def wait_for(check, timeout: float = 5.0) -> float:
    """Seconds until `check()` held; fails past `timeout` (the issue's bound for a change to be seen)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not seen within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - started


def new_key(admin: httpx.Client, gateway, **body) -> str:
    response = admin.post("/v1/gateway/keys", json=body)
    assert response.status_code == 201, response.text
    secret = response.json()["secret"]
    with as_key(gateway, secret) as http:
        wait_for(lambda: http.get("/v1/models").status_code == 200)
    return secret


def stable(view: dict) -> dict:
    return {k: v for k, v in view.items() if k not in VOLATILE}


def test_the_key_api_creates_lists_updates_and_revokes(admin, keyed, snapshot):
    created = admin.post("/v1/gateway/keys", json={"name": "api-roundtrip", "models": ["tts-1", "whisper-1"],
                                                  "budget_usd": "2.50", "budget_period": "week", "rpm": 30})
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("sk-gw-") and len(body["secret"]) >= 49
    assert set(VOLATILE) <= set(body) and body["last_used_at"] is None
    assert stable(body) == snapshot(name="created")
    listed = admin.get("/v1/gateway/keys").json()
    mine = [k for k in listed["data"] if k["name"] == "api-roundtrip"]
    assert listed["object"] == "list" and len(mine) == 1 and "secret" not in mine[0]
    assert {k: v for k, v in body.items() if k != "secret"} == mine[0]
    patched = admin.patch("/v1/gateway/keys/api-roundtrip", json={"rpm": None, "budget_usd": 3,
                                                                  "characters_per_minute": 5000})
    assert patched.status_code == 200
    assert stable(patched.json()) == snapshot(name="patched")
    assert admin.get("/v1/gateway/keys/api-roundtrip").json() == patched.json()
    gone = admin.delete("/v1/gateway/keys/api-roundtrip")
    assert gone.status_code == 200 and gone.json() == {"object": "gateway.key.deleted", "name": "api-roundtrip",
                                                        "deleted": True}
    assert admin.get("/v1/gateway/keys/api-roundtrip").status_code == 404
    assert admin.delete("/v1/gateway/keys/api-roundtrip").json()["error"]["code"] == "key_not_found"


@pytest.mark.parametrize(("body", "param"), [
    ({"name": "dup"}, "name"),
    ({"name": "bad name!"}, "name"),
    ({"name": "alice"}, "name"),                        # an environment key's name
    ({"name": "x1", "budget_usd": -1}, "budget_usd"),
    ({"name": "x1", "budget_usd": "ten"}, "budget_usd"),
    ({"name": "x1", "budget_usd": 1, "budget_period": "year"}, "budget_period"),
    ({"name": "x1", "models": ["no-such-model"]}, "models"),
    ({"name": "x1", "rpm": 0}, "rpm"),
    ({"name": "x1", "rpm": "many"}, "rpm"),
    ({"name": "x1", "audio_seconds_per_minute": -3}, "audio_seconds_per_minute"),
])
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(admin, body, param):
    admin.post("/v1/gateway/keys", json={"name": "dup"})
    before = admin.get("/v1/gateway/keys").json()["data"]
    response = admin.post("/v1/gateway/keys", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert admin.get("/v1/gateway/keys").json()["data"] == before
    patch = admin.patch("/v1/gateway/keys/dup", json={"budget_period": "fortnight"})
    assert patch.status_code == 400 and patch.json()["error"]["param"] == "budget_period"


def test_only_admin_keys_manage_keys(keyed):
    with httpx.Client(base_url=keyed.url, headers={"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}) as alice:
        refused = alice.get("/v1/gateway/keys")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_key_required"
    assert httpx.get(f"{keyed.url}/v1/gateway/keys").status_code == 401


def test_revocation_and_updates_take_effect_within_5_s(admin, keyed):
    secret = new_key(admin, keyed, name="live-changes")
    with as_key(keyed, secret) as http:
        assert http.post("/v1/audio/speech", json=SPEECH).status_code == 200
        admin.patch("/v1/gateway/keys/live-changes", json={"models": ["whisper-1"]})
        wait_for(lambda: http.post("/v1/audio/speech", json=SPEECH).status_code == 403)
        admin.delete("/v1/gateway/keys/live-changes")
        wait_for(lambda: http.get("/v1/models").status_code == 401)
    used = [k for k in admin.get("/v1/gateway/keys").json()["data"] if k["name"] == "live-changes"]
    assert used == []


def test_a_key_limited_to_some_models_sees_and_uses_only_those(admin, keyed, snapshot):
    secret = new_key(admin, keyed, name="only-tts", models=["tts-1"])
    with as_key(keyed, secret) as http:
        assert [m["id"] for m in http.get("/v1/models").json()["data"]] == ["openai/tts-1"]
        refused = http.post("/v1/audio/speech", json={**SPEECH, "model": "gpt-4o-mini-tts"})
        assert refused.status_code == 403 and refused.json() == snapshot
        assert http.get("/v1/models/whisper-1").status_code == 403
        stt = http.post("/v1/audio/transcriptions", files={"file": ("a.wav", make_wav(1.0), "audio/wav")},
                        data={"model": "whisper-1"})
        assert stt.status_code == 403 and stt.json()["error"]["code"] == "model_not_allowed"
        assert http.post("/v1/audio/speech", json=SPEECH).status_code == 200


def _ratelimit_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in sorted(response.headers.items()) if k.startswith(("x-ratelimit-", "retry-after"))}


def test_rate_limits_answer_429_with_headers_and_reset_when_the_window_passes(admin, keyed, clock, snapshot):
    secret = new_key(admin, keyed, name="rpm-two", rpm=2, characters_per_minute=100)
    with as_key(keyed, secret) as http:
        first = http.post("/v1/audio/speech", json=SPEECH)
        second = http.post("/v1/audio/speech", json=SPEECH)
        third = http.post("/v1/audio/speech", json=SPEECH)
        assert [first.status_code, second.status_code, third.status_code] == [200, 200, 429]
        assert _ratelimit_headers(first) == snapshot(name="first")
        assert _ratelimit_headers(third) == snapshot(name="refused-headers")
        assert third.json() == snapshot(name="refused-body")
        assert _ratelimit_headers(http.get("/v1/models")) == _ratelimit_headers(second)  # every response
        with openai.OpenAI(base_url=f"{keyed.url}/v1", api_key=secret, max_retries=0) as sdk:
            with pytest.raises(openai.RateLimitError) as caught:
                sdk.audio.speech.create(**SPEECH)
        assert caught.value.code == "rate_limit_exceeded" and caught.value.status_code == 429
        clock.advance(60)
        assert http.post("/v1/audio/speech", json=SPEECH).status_code == 200
        too_long = http.post("/v1/audio/speech", json={**SPEECH, "input": "x" * 101})
        assert too_long.status_code == 429 and too_long.json()["error"]["type"] == "characters"


def test_audio_seconds_per_minute_counts_the_probed_upload(admin, keyed, clock):
    secret = new_key(admin, keyed, name="stt-seconds", audio_seconds_per_minute=5)
    with as_key(keyed, secret) as http:
        def upload(seconds: float) -> httpx.Response:
            return http.post("/v1/audio/transcriptions", files={"file": ("a.wav", make_wav(seconds), "audio/wav")},
                             data={"model": "whisper-1"})
        ok = upload(3.0)
        assert ok.status_code == 200 and ok.headers["x-ratelimit-remaining-audio-seconds"] == "2"
        refused = upload(3.0)
        assert refused.status_code == 429 and refused.json()["error"]["type"] == "audio_seconds"
        assert refused.headers["retry-after"] == "12"            # 1 s short at 5 s / min
        clock.advance(12)
        assert upload(3.0).status_code == 200


def _spend(admin: httpx.Client, name: str) -> Decimal:
    return Decimal(next(k for k in admin.get("/v1/gateway/keys").json()["data"] if k["name"] == name)["spend_usd"])


def test_fifty_at_once_on_a_budget_for_ten_and_the_ledger_agrees(admin, keyed, snapshot):
    budget = SPEECH_COST * 10
    secret = new_key(admin, keyed, name="ten-requests", budget_usd=str(budget), budget_period="day")

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=keyed.url, headers={"Authorization": f"Bearer {secret}"},
                                     timeout=20, limits=httpx.Limits(max_connections=50)) as http:
            responses = await asyncio.gather(*[http.post("/v1/audio/speech", json=SPEECH) for _ in range(50)])
        return [r.status_code for r in responses]

    statuses = asyncio.run(burst())
    assert statuses.count(200) == 10 and statuses.count(429) == 40
    wait_for(lambda: _spend(admin, "ten-requests") == budget)    # the ledger: exactly ten rows' worth
    with as_key(keyed, secret) as http:
        refused = http.post("/v1/audio/speech", json=SPEECH)
    assert refused.status_code == 429 and refused.headers["x-should-retry"] == "false"
    body = refused.json()
    assert body["error"]["message"].endswith("resets at " + admin.get("/v1/gateway/keys/ten-requests")
                                             .json()["resets_at"] + ".")
    body["error"]["message"] = body["error"]["message"].rsplit(" resets at ", 1)[0]
    assert body == snapshot
    with openai.OpenAI(base_url=f"{keyed.url}/v1", api_key=secret, max_retries=0) as sdk:
        with pytest.raises(openai.RateLimitError) as caught:
            sdk.audio.speech.create(**SPEECH)
    assert caught.value.code == "insufficient_quota"
    metrics = admin.get("/metrics").text   # 80 % was passed once in this period: counted once
    assert 'audio_gateway_budget_warnings_total{key="ten-requests",period="day"} 1.0' in metrics


def test_a_failed_request_gives_its_reservation_back(admin, keyed, fake_openai):
    secret = new_key(admin, keyed, name="one-request", budget_usd=str(SPEECH_COST), budget_period="total")
    with as_key(keyed, secret) as http:
        fake_openai.inject(Fault.HTTP_400)
        assert http.post("/v1/audio/speech", json=SPEECH).status_code == 400
        assert http.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy"}).status_code == 400
        assert http.post("/v1/audio/speech", json=SPEECH).status_code == 200
        refused = http.post("/v1/audio/speech", json=SPEECH)
        assert refused.status_code == 429 and "does not reset" in refused.json()["error"]["message"]


def test_a_client_gone_mid_stream_leaves_nothing_held(admin, keyed, clock):
    """The stream is cut by the client after its first bytes: the row says client_disconnected with what was
    served, the reservation is settled with it, and no hold is left on the account."""
    secret = new_key(admin, keyed, name="hangs-up", budget_usd="1", budget_period="day")
    with as_key(keyed, secret) as http:
        with http.stream("POST", "/v1/audio/speech", json={**SPEECH, "input": "long " * 400}) as response:
            assert response.status_code == 200
            next(response.iter_raw())
        fetched = http.post("/v1/audio/speech", json=SPEECH)
        assert fetched.status_code == 200
    account = f"hangs-up:day:{clock().date().isoformat()}"
    limiter = keyed.app.state.limiter
    wait_for(lambda: keyed.call(limiter.store.held(account)) == 0)
    wait_for(lambda: _spend(admin, "hangs-up") > SPEECH_COST)       # both rows reached the ledger


def test_a_daily_budget_resets_at_midnight_utc(admin, keyed, clock):
    secret = new_key(admin, keyed, name="daily", budget_usd=str(SPEECH_COST), budget_period="day")
    with as_key(keyed, secret) as http:
        assert http.post("/v1/audio/speech", json=SPEECH).status_code == 200
        assert http.post("/v1/audio/speech", json=SPEECH).status_code == 429
        clock.advance(24 * 3600)
        assert http.post("/v1/audio/speech", json=SPEECH).status_code == 200


def test_environment_keys_stay_unlimited(keyed):
    with httpx.Client(base_url=keyed.url, headers={"Authorization": f"Bearer {CLIENT_KEYS['bob']}"}) as bob:
        with ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(lambda _: bob.post("/v1/audio/speech", json=SPEECH), range(8)))
    assert all(r.status_code == 200 for r in responses)
    assert not any(k.startswith("x-ratelimit") for r in responses for k in r.headers)
