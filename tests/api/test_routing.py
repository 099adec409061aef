"""Routing policies end to end: the official SDK against the gateway and the fake providers on loopback.

The shipped catalog: `tts-1` sends mostly-CJK text to CosyVoice2 first; the virtual `auto` and
`auto-transcribe` route by content, then price. A second gateway with a test catalog runs `fastest`
(two lanes of its own, so its latency averages are this module's alone) and `weighted`.
"""

from __future__ import annotations

import shutil
import threading
import time
from decimal import Decimal

import httpx
import msgspec
import openai
import pytest

from audio_gateway.ledger import LedgerRow
from audio_gateway.routing import ProviderState, RouteFacts, decide

from ..audio_samples import make_wav
from ..conftest import CLIENT_KEYS, provider_env
from ..fakes import Fault
from ..support.server_thread import CATALOG_DIR, GatewayServer

CHINESE = "今天天气很好，我们去公园散步吧。"
ENGLISH = "The weather is lovely today; let us walk in the park."
HINDI = "आज मौसम बहुत अच्छा है, चलो पार्क में टहलते हैं।"   # 3 UTF-8 bytes a letter, no CJK


class RecordingSink:
    """Wraps the app's ledger sink (api/books.py hands rows to it): rows still reach the ledger, and a copy
    is kept in memory for the test to read."""

    def __init__(self, forward) -> None:
        self.rows: list[LedgerRow] = []
        self._lock = threading.Lock()
        self._forward = forward

    def record(self, row: LedgerRow) -> None:
        with self._lock:
            self.rows.append(row)
        self._forward.record(row)

    def row(self, request_id: str, timeout: float = 5.0) -> LedgerRow:
        """A speech row is written when the stream has ended, a moment after the client read the last byte."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [r for r in self.rows if r.id == request_id]
            if found:
                return found[-1]
            assert time.monotonic() < deadline, f"no ledger row for {request_id}"
            time.sleep(0.01)


@pytest.fixture
def ledger(gateway):
    original = gateway.app.state.ledger
    sink = RecordingSink(original.sink)
    gateway.app.state.ledger = msgspec.structs.replace(original, sink=sink)
    yield sink
    gateway.app.state.ledger = original


def speak(sdk: openai.OpenAI, model: str, text: str, **kwargs):
    response = sdk.audio.speech.with_raw_response.create(model=model, voice=kwargs.pop("voice", "alloy"), input=text,
                                                         **kwargs)
    assert response.content  # the whole stream was read
    return response.headers


def test_chinese_to_tts1_is_served_by_cosyvoice_and_billed_per_utf8_byte(sdk, ledger, fake_openai, fake_siliconflow):
    headers = speak(sdk, "tts-1", CHINESE)
    assert headers["x-gateway-route"] == "content:cjk>=0.3"
    assert (headers["x-gateway-model"], headers["x-gateway-provider"]) == ("alibaba/cosyvoice2-0.5b", "siliconflow")
    assert headers["x-gateway-billing-unit"] == "utf8_byte"
    assert headers["x-gateway-billing-quantity"] == str(len(CHINESE.encode())) == "48"
    assert Decimal(headers["x-gateway-cost-usd"]) == Decimal(48) * Decimal("7.15") / 1_000_000
    (upstream,) = fake_siliconflow.requests
    assert upstream.json["voice"] == "FunAudioLLM/CosyVoice2-0.5B:alex"  # alloy, re-mapped as in fallback
    assert fake_openai.hits == 0
    row = ledger.row(headers["x-request-id"])
    assert (row.route, row.model_requested, row.model_served) == ("content:cjk>=0.3", "tts-1", "alibaba/cosyvoice2-0.5b")
    assert row.cost_usd == Decimal(headers["x-gateway-cost-usd"]) and not row.fell_back


def test_english_to_tts1_stays_with_openai_per_character(sdk, ledger, fake_siliconflow):
    headers = speak(sdk, "tts-1", ENGLISH)
    assert (headers["x-gateway-route"], headers["x-gateway-model"]) == ("chain", "openai/tts-1")
    assert (headers["x-gateway-billing-unit"], headers["x-gateway-billing-quantity"]) == ("character", str(len(ENGLISH)))
    assert fake_siliconflow.hits == 0
    assert ledger.row(headers["x-request-id"]).route == "chain"


def test_chinese_in_a_format_cosyvoice_lacks_goes_to_openai(sdk, fake_siliconflow):
    headers = speak(sdk, "tts-1", CHINESE, response_format="aac")
    assert (headers["x-gateway-route"], headers["x-gateway-model"], headers["x-gateway-attempts"]) == (
        "chain", "openai/tts-1", "1")
    assert fake_siliconflow.hits == 0


def test_openai_stays_in_the_chain_for_chinese(sdk, ledger, fake_openai, fake_siliconflow):
    fake_siliconflow.inject(Fault.HTTP_503)
    headers = speak(sdk, "tts-1", CHINESE)
    assert headers["x-gateway-route"] == "content:cjk>=0.3"  # the rule chose the first target; it failed
    assert (headers["x-gateway-model"], headers["x-gateway-attempts"]) == ("openai/tts-1", "2")
    assert (headers["x-gateway-billing-unit"], headers["x-gateway-billing-quantity"]) == ("character", str(len(CHINESE)))
    row = ledger.row(headers["x-request-id"])
    assert row.fell_back and [a.outcome for a in row.attempt_outcomes] == ["status", "ok"]


@pytest.mark.parametrize("text, fmt, route, model, unit", [
    (ENGLISH, "mp3", "cheapest", "alibaba/cosyvoice2-0.5b", "utf8_byte"),   # 53 bytes x 7.15 < 53 chars x 15
    (HINDI, "mp3", "cheapest", "openai/tts-1", "character"),                # 3 bytes a letter: OpenAI is cheaper
    (CHINESE, "mp3", "content:cjk>=0.3", "alibaba/cosyvoice2-0.5b", "utf8_byte"),
    (ENGLISH, "aac", "cheapest", "openai/tts-1", "character"),              # SiliconFlow has no aac: not a pick
    (HINDI * 100, "mp3", "cheapest", "alibaba/cosyvoice2-0.5b", "utf8_byte"),  # past OpenAI's 4,096 characters
])
def test_auto_speech_routes_by_content_then_price(sdk, text, fmt, route, model, unit):
    headers = speak(sdk, "auto", text, response_format=fmt)
    assert (headers["x-gateway-route"], headers["x-gateway-model"], headers["x-gateway-billing-unit"]) == (
        route, model, unit)
    assert headers["x-gateway-attempts"] == "1"


def test_auto_is_validated_as_the_model_the_client_named(sdk, client):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.audio.speech.create(model="auto", voice="not-a-voice", input="Hi")
    assert caught.value.body["param"] == "voice"  # auto speaks its first target's (OpenAI's) voice names
    assert "x-gateway-route" not in caught.value.response.headers  # refused before any routing
    assert client.post("/v1/audio/speech", json={"model": "auto", "voice": "alloy", "input": "Hi", "speed": 9}
                       ).json()["error"]["param"] == "speed"


def transcribe(sdk: openai.OpenAI, model: str, **kwargs):
    response = sdk.audio.transcriptions.with_raw_response.create(model=model, file=("a.wav", make_wav(1.0), "audio/wav"),
                                                                 **kwargs)
    return response.headers, response.parse()


@pytest.mark.parametrize("kwargs, route, model", [
    ({"language": "zh"}, "content:language=zh,yue,ja,ko", "alibaba/sensevoice-small"),
    ({"language": "ko"}, "content:language=zh,yue,ja,ko", "alibaba/sensevoice-small"),
    ({"language": "en"}, "cheapest", "openai/whisper-1"),     # the same price per minute: declared order
    ({}, "cheapest", "openai/whisper-1"),
    ({"response_format": "verbose_json", "timestamp_granularities": ["word"]}, "cheapest", "openai/whisper-1"),
])
def test_auto_transcribe_routes_by_language_then_price(sdk, ledger, kwargs, route, model):
    headers, result = transcribe(sdk, "auto-transcribe", **kwargs)
    assert result.text
    assert (headers["x-gateway-route"], headers["x-gateway-model"]) == (route, model)
    row = ledger.row(headers["x-request-id"])
    assert (row.route, row.model_requested, row.model_served) == (route, "auto-transcribe", model)


def test_auto_transcribe_translates_with_the_target_that_can(sdk, fake_siliconflow):
    response = sdk.audio.translations.with_raw_response.create(model="auto-transcribe",
                                                               file=("a.wav", make_wav(1.0), "audio/wav"))
    assert response.headers["x-gateway-model"] == "openai/whisper-1"
    assert fake_siliconflow.hits == 0


def test_whisper1_keeps_its_plain_chain(sdk):
    headers, _ = transcribe(sdk, "whisper-1", language="zh")
    assert (headers["x-gateway-route"], headers["x-gateway-model"]) == ("chain", "openai/whisper-1")


def test_an_error_after_routing_carries_the_route_and_so_does_its_row(client, ledger, fake_openai, fake_siliconflow):
    fake_openai.inject(Fault.HTTP_500, times=None)
    fake_siliconflow.inject(Fault.HTTP_500, times=None)
    response = client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": CHINESE})
    assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_failed"
    assert response.headers["x-gateway-route"] == "content:cjk>=0.3"
    row = ledger.row(response.headers["x-request-id"])
    assert (row.status, row.route, row.http_status) == ("failed", "content:cjk>=0.3", 502)


def test_models_endpoint_shows_the_policy(client):
    auto = client.get("/v1/models/auto").json()
    assert (auto["id"], auto["owned_by"], auto["provider"], auto["virtual"], auto["pricing"]) == (
        "gateway/auto", "gateway", None, True, [])
    assert auto["routing"] == {
        "policy": "cheapest",
        "content": [{"rule": "content:cjk>=0.3", "use": "alibaba/cosyvoice2-0.5b", "cjk_at_least": 0.3}],
        "targets": ["openai/tts-1", "alibaba/cosyvoice2-0.5b", "fishaudio/fish-speech-1.5"],
        "then": [],
    }
    assert auto["capabilities"]["response_formats"] == ["mp3", "opus", "aac", "flac", "wav", "pcm"]
    assert auto["capabilities"]["max_input_chars"] == 128000 and auto["voices"]["default"] == "alloy"
    assert client.get("/v1/models/tts-1").json()["routing"]["content"][0]["rule"] == "content:cjk>=0.3"
    assert client.get("/v1/models/auto-transcribe").json()["capabilities"]["translation"] is True


LANES = """
# Two lanes of their own (the same fakes, other provider names), so the latency averages are this test's.
providers:
  lane-a: {adapter: openai, base_url: "${OPENAI_BASE_URL}", api_key: "${OPENAI_API_KEY}"}
  lane-b: {adapter: siliconflow, base_url: "${SILICONFLOW_BASE_URL}", api_key: "${SILICONFLOW_API_KEY}"}
models:
  - {id: lane/a, kind: tts, provider: lane-a, upstream_model: tts-1, voices: openai,
     capabilities: {response_formats: [mp3], max_input_chars: 4096}, billing: [{unit: character, price_usd: 15, per: 1000000}]}
  - {id: lane/b, kind: tts, provider: lane-b, upstream_model: FunAudioLLM/CosyVoice2-0.5B, voices: siliconflow-system,
     capabilities: {response_formats: [mp3], max_input_chars: 4096}, billing: [{unit: utf8_byte, price_usd: 7.15, per: 1000000}]}
  - {id: test/fastest, kind: tts, routing: {policy: fastest, min_samples: 2, targets: [lane/a, lane/b]}}
  - {id: test/weighted, kind: tts, routing: {policy: weighted, weights: {openai/tts-1: 3, alibaba/cosyvoice2-0.5b: 1}}}
"""


@pytest.fixture(scope="module")
def routed(tmp_path_factory, fake_openai, fake_siliconflow):
    catalog = tmp_path_factory.mktemp("routed") / "catalog"
    shutil.copytree(CATALOG_DIR, catalog)
    (catalog / "lanes.yaml").write_text(LANES)
    # A slowed lane must be slow, never timed out (which would leave it unmeasured): a roomy upstream timeout.
    env = provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_UPSTREAM_TIMEOUT="5")
    server = GatewayServer(env, catalog_dir=catalog).start()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}, timeout=10) as http:
        yield server, http
    server.stop()


def _served(http: httpx.Client, model: str, request_id: str | None = None) -> tuple[str, str]:
    headers = {"x-request-id": request_id} if request_id else {}
    response = http.post("/v1/audio/speech", json={"model": model, "voice": "alloy", "input": "Hello."}, headers=headers)
    assert response.status_code == 200, response.text
    return response.headers["x-gateway-model"], response.headers["x-gateway-route"]


def test_fastest_measures_both_lanes_then_flips_when_the_fast_one_slows(routed, fake_openai, fake_siliconflow):
    _, http = routed
    fake_siliconflow.first_byte_delay = 0.15
    # Each lane is measured min_samples (2) times before its average is trusted, in declared order.
    warm_up = [_served(http, "test/fastest") for _ in range(5)]
    assert warm_up == [("lane/a", "fastest:unmeasured")] * 2 + [("lane/b", "fastest:unmeasured")] * 2 + [
        ("lane/a", "fastest")]
    fake_openai.first_byte_delay, fake_siliconflow.first_byte_delay = 0.4, 0.0
    served = [_served(http, "test/fastest") for _ in range(5)]
    # lane/a's average (smoothing 0.3) climbs past lane/b's ~150 ms on its second or third slow call.
    assert ("lane/b", "fastest") in served, served
    flipped = served.index(("lane/b", "fastest"))
    assert served == [("lane/a", "fastest")] * flipped + [("lane/b", "fastest")] * (5 - flipped), served
    assert 1 <= flipped <= 3, served


def test_weighted_splits_by_request_id_as_the_pure_router_says(routed):
    server, http = routed
    route = server.plan.resolve("test/weighted")
    seen = []
    for i in range(24):
        request_id = f"weighted-{i:03d}"
        expected = decide(route, RouteFacts(kind="tts", request_id=request_id), ProviderState()).targets[0].model.id
        assert _served(http, "test/weighted", request_id) == (expected, f"weighted:{expected}")
        seen.append(expected)
    assert set(seen) == {"openai/tts-1", "alibaba/cosyvoice2-0.5b"}
    assert _served(http, "test/weighted", "weighted-007")[0] == seen[7]  # the same id, the same target
