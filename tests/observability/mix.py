"""A scripted mix of requests (successes, fallbacks, failures, refusals) and exactly what it must count.

The same script runs against one in-process gateway and against `serve --workers 2`; each request is
sent on a fresh connection, so a forked worker is free to accept any of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ..audio_samples import make_wav
from ..conftest import CLIENT_KEYS
from ..fakes import Fault

__all__ = ["AUTH", "UNKNOWN_MODEL", "SPEECH", "Expected", "run_mix", "scrape", "samples"]

AUTH = {"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}
TEXT = "Metrics count what was served."
SPEECH = {"model": "tts-1", "voice": "alloy", "input": TEXT}
UNKNOWN_MODEL = "no-such-model-7f3e9a"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, parsed by prometheus-client's own parser, by (name, labels)."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(url: str, headers: dict[str, str] | None = None) -> Samples:
    response = httpx.get(url, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


def of(all_samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """The samples of one name (`audio_gateway_requests_total`), by their labels."""
    return {labels: value for (sample, labels), value in all_samples.items() if sample == name}


def labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairs.items())


class Expected:
    """What the mix must have counted, built up as it runs."""

    def __init__(self) -> None:
        self.requests: Counter[frozenset] = Counter()
        self.attempts: Counter[frozenset] = Counter()
        self.fallbacks: Counter[frozenset] = Counter()
        self.billed: Counter[frozenset] = Counter()
        self.cost: dict[frozenset, Decimal] = {}
        self.durations: Counter[frozenset] = Counter()
        self.ttfb: Counter[frozenset] = Counter()

    def served(self, response: httpx.Response, endpoint: str, unit: str, quantity: int, attempts: list[tuple[str, str]],
               asked: str) -> None:
        assert response.status_code == 200, response.text
        model, provider = response.headers["x-gateway-model"], response.headers["x-gateway-provider"]
        self.requests[labels(endpoint=endpoint, model=model, provider=provider, status="completed")] += 1
        self.durations[labels(endpoint=endpoint, model=model)] += 1
        self.ttfb[labels(endpoint=endpoint, model=model)] += 1
        self.billed[labels(model=model, unit=unit)] += quantity
        key = labels(model=model, provider=provider)
        self.cost[key] = self.cost.get(key, Decimal(0)) + Decimal(response.headers["x-gateway-cost-usd"])
        self._attempts(attempts)
        if model != asked:
            self.fallbacks[labels(from_model=asked, to_model=model)] += 1

    def failed(self, response: httpx.Response, endpoint: str, asked: str, attempts: list[tuple[str, str]]) -> None:
        assert response.status_code == 502, response.text
        self.requests[labels(endpoint=endpoint, model=asked, provider="none", status="failed")] += 1
        self.durations[labels(endpoint=endpoint, model=asked)] += 1
        self._attempts(attempts)

    def _attempts(self, attempts: list[tuple[str, str]]) -> None:
        for provider, outcome in attempts:
            self.attempts[labels(provider=provider, outcome=outcome)] += 1


def run_mix(post: Callable[..., httpx.Response], fake_openai, fake_siliconflow) -> Expected:
    """`post(path, **httpx_kwargs)` sends one request to the gateway. Returns what must have been counted."""
    expected = Expected()
    text_bytes = len(TEXT.encode())
    for _ in range(3):                                                       # served by the model asked for
        expected.served(post("/v1/audio/speech", json=SPEECH), "audio.speech", "character", len(TEXT),
                        [("openai", "ok")], "openai/tts-1")
    for _ in range(2):                                                       # OpenAI fails: CosyVoice2 serves
        fake_openai.inject(Fault.HTTP_500, path="/v1/audio/speech")
        expected.served(post("/v1/audio/speech", json=SPEECH), "audio.speech", "utf8_byte", text_bytes,
                        [("openai", "status"), ("siliconflow", "ok")], "openai/tts-1")
    fake_openai.inject(Fault.HTTP_500, path="/v1/audio/speech")             # every target fails: 502
    fake_siliconflow.inject(Fault.HTTP_503, path="/v1/audio/speech")
    expected.failed(post("/v1/audio/speech", json=SPEECH), "audio.speech", "openai/tts-1",
                    [("openai", "status"), ("siliconflow", "status")])
    for _ in range(2):
        expected.served(post("/v1/audio/transcriptions", data={"model": "whisper-1"},
                             files={"file": ("a.wav", make_wav(2.0), "audio/wav")}),
                        "audio.transcriptions", "second", 2, [("openai", "ok")], "openai/whisper-1")
    fake_openai.inject(Fault.RESET, path="/v1/audio/transcriptions")         # connection reset: SenseVoice
    expected.served(post("/v1/audio/transcriptions", data={"model": "whisper-1"},
                         files={"file": ("a.wav", make_wav(2.0), "audio/wav")}),
                    "audio.transcriptions", "second", 2, [("openai", "connect"), ("siliconflow", "ok")],
                    "openai/whisper-1")
    expected.served(post("/v1/audio/translations", data={"model": "whisper-1"},
                         files={"file": ("a.wav", make_wav(2.0), "audio/wav")}),
                    "audio.translations", "second", 2, [("openai", "ok")], "openai/whisper-1")
    # Refused before routing: counted nowhere, and the unknown name never becomes a label value.
    assert post("/v1/audio/speech", json={**SPEECH, "model": UNKNOWN_MODEL}).status_code == 404
    assert post("/v1/audio/speech", json={**SPEECH, "voice": "no-such-voice"}).status_code == 400
    return expected


def check(all_samples: Samples, expected: Expected) -> None:
    """Exactly the expected series, with exactly the expected values (money to float precision)."""
    assert of(all_samples, "audio_gateway_requests_total") == dict(expected.requests)
    assert of(all_samples, "audio_gateway_upstream_attempts_total") == dict(expected.attempts)
    assert of(all_samples, "audio_gateway_fallbacks_total") == dict(expected.fallbacks)
    assert of(all_samples, "audio_gateway_billed_units_total") == dict(expected.billed)
    assert of(all_samples, "audio_gateway_request_duration_seconds_count") == dict(expected.durations)
    assert of(all_samples, "audio_gateway_time_to_first_byte_seconds_count") == dict(expected.ttfb)
    costs = of(all_samples, "audio_gateway_cost_usd_total")
    assert set(costs) == set(expected.cost)
    for key, usd in expected.cost.items():
        assert abs(costs[key] - float(usd)) < 1e-12, (key, costs[key], usd)
    assert of(all_samples, "audio_gateway_inflight_requests") == {frozenset(): 0.0}
    assert of(all_samples, "audio_gateway_circuit_state") == {labels(provider="openai"): 0.0,
                                                              labels(provider="siliconflow"): 0.0}
    # Every bucket series ends in +Inf with the count; nothing carries a name a client typed.
    for (name, label_set), _ in all_samples.items():
        assert all(UNKNOWN_MODEL not in value for _, value in label_set), name
