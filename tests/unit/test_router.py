"""The policy router, table-driven and without I/O: a small catalog compiled in memory, facts and state in.

Prices here are chosen so each policy's answer depends on the request: `p/char` charges per character,
`p/byte` per UTF-8 byte at a lower rate (cheaper for ASCII, dearer for CJK, the seed's 3x remark), and
`p/steer` per token plus estimated output tokens, with instructions.
"""

from __future__ import annotations

import collections
from decimal import Decimal
from pathlib import Path

import pytest

from audio_gateway.catalog import Plan, compile_plan
from audio_gateway.catalog.problems import CatalogProblem
from audio_gateway.catalog.schema import load_validator
from audio_gateway.catalog.source import read_source
from audio_gateway.providers import ADAPTERS
from audio_gateway.routing import LatencyView, ProviderState, RouteFacts, decide
from audio_gateway.routing.content import cjk_share
from audio_gateway.routing.router import reachable, request_price, weighted_index

SCHEMA = Path(__file__).resolve().parents[2] / "schema" / "catalog.schema.json"

CATALOG = """
providers:
  pa: {adapter: openai, base_url: "http://127.0.0.1:9/v1", api_key: k}
  pb: {adapter: siliconflow, base_url: "http://127.0.0.1:9/v1", api_key: k}
  pc: {adapter: openai, base_url: "http://127.0.0.1:9/v1", api_key: k}
voice_sets:
  v: {voices: [alloy, nova], default: alloy}
models:
  - {id: p/char, kind: tts, provider: pa, upstream_model: c, voices: v,
     capabilities: {response_formats: [mp3, aac], max_input_chars: 100},
     billing: [{unit: character, price_usd: 15, per: 1000000}], fallbacks: [{model: p/last}]}
  - {id: p/byte, kind: tts, provider: pb, upstream_model: b, voices: v,
     capabilities: {response_formats: [mp3], max_input_chars: 1000},
     billing: [{unit: utf8_byte, price_usd: 7, per: 1000000}]}
  - {id: p/byte2, kind: tts, provider: pc, upstream_model: b2, voices: v,
     capabilities: {response_formats: [mp3], max_input_chars: 1000},
     billing: [{unit: utf8_byte, price_usd: 7, per: 1000000}]}
  - {id: p/steer, kind: tts, provider: pa, upstream_model: s, voices: v,
     capabilities: {response_formats: [mp3], max_input_chars: 100, instructions: true},
     billing: [{unit: input_token, price_usd: 1, per: 1000000, tokenizer: o200k_base},
               {unit: output_token, price_usd: 30, per: 1000000, estimate: {from: character, ratio: 1}}]}
  - {id: p/last, kind: tts, provider: pc, upstream_model: l, voices: v,
     capabilities: {response_formats: [mp3], max_input_chars: 100}, billing: [{unit: character, price_usd: 0}]}
  - id: r/content
    kind: tts
    provider: pa
    upstream_model: c
    voices: v
    capabilities: {response_formats: [mp3, aac], max_input_chars: 100}
    billing: [{unit: character, price_usd: 15, per: 1000000}]
    fallbacks: [{model: p/byte}]
    routing:
      content:
        - {cjk_at_least: 0.3, use: p/byte}
        - {cjk_at_least: 0.3, use: p/byte2}
        - {voice: nova, response_format: [aac], use: p/char, name: nova-aac}
  - {id: r/cheapest, kind: tts, routing: {policy: cheapest, targets: [p/char, p/byte, p/byte2, p/steer]}}
  - {id: r/fastest, kind: tts, routing: {policy: fastest, min_samples: 3, targets: [p/char, p/byte, p/byte2]}}
  - {id: r/weighted, kind: tts, routing: {policy: weighted, weights: {p/char: 6, p/byte: 3, p/byte2: 1}}}
  - {id: s/one, kind: stt, provider: pa, upstream_model: w, capabilities: {response_formats: [json]},
     billing: [{unit: second, price_usd: 6, per: 1000}]}
  - {id: s/two, kind: stt, provider: pb, upstream_model: sv, capabilities: {response_formats: [json]},
     billing: [{unit: second, price_usd: 6, per: 1000}]}
  - {id: s/cheap, kind: stt, provider: pc, upstream_model: c, capabilities: {response_formats: [json]},
     billing: [{unit: second, price_usd: 1, per: 1000}]}
  - id: r/stt
    kind: stt
    routing:
      content:
        - {language: [zh, ja], use: s/two}
        - {min_seconds: 600, use: s/cheap, name: long}
      policy: cheapest
      targets: [s/one, s/two]
"""


@pytest.fixture(scope="module")
def plan() -> Plan:
    problems: list[CatalogProblem] = []
    source = read_source("catalog/test.yaml", CATALOG, {}, problems)
    assert source is not None and not problems
    return compile_plan([source], load_validator(SCHEMA), ADAPTERS.keys())


def tts(text: str = "Hello there", **kwargs) -> RouteFacts:
    return RouteFacts(kind="tts", text=text, **kwargs)


def order(plan: Plan, model: str, facts: RouteFacts, state: ProviderState = ProviderState()) -> tuple[list[str], str]:
    decision = decide(plan.routes[model], facts, state)
    return [t.model.id for t in decision.targets], decision.reason


@pytest.mark.parametrize("text, share", [
    ("", 0.0), ("   \n\t", 0.0), ("123 !? ...", 0.0), ("😀🎧👍🏽", 0.0), ("Hello", 0.0),
    ("你好", 1.0), ("你好 world", 2 / 7), ("价格 100 元!", 1.0), ("ラーメン", 1.0), ("ｶﾀｶﾅ", 1.0),
    ("한국어 text", 3 / 7), ("々", 1.0), ("𠀀𪚥", 1.0), ("नमस्ते दुनिया", 0.0), ("Привет", 0.0),
    ("Grüße, 世界! 🎧", 2 / 7), ("我用iPhone拍照", 4 / 10), ("、。「」", 0.0),
])
def test_cjk_share_counts_letters_only(text, share):
    assert cjk_share(text) == pytest.approx(share)


@pytest.mark.parametrize("text, targets, reason", [
    ("你好，世界", ["p/byte", "r/content"], "content:cjk>=0.3"),
    ("ab 你好 d", ["p/byte", "r/content"], "content:cjk>=0.3"),         # 2 of 5 letters
    ("abc 你好 def", ["r/content", "p/byte"], "chain"),                  # 2 of 8 letters < 0.3
    ("abcdefg 你好吗", ["p/byte", "r/content"], "content:cjk>=0.3"),     # 3 of 10: the bound holds
    ("😀 🎧 123", ["r/content", "p/byte"], "chain"),                     # no letters, no share
    ("你好 😀😀😀😀😀😀", ["p/byte", "r/content"], "content:cjk>=0.3"),   # emoji are not letters
    ("Hello", ["r/content", "p/byte"], "chain"),
])
def test_content_rule_by_cjk_share(plan, text, targets, reason):
    assert order(plan, "r/content", tts(text)) == (targets, reason)


def test_a_rule_whose_target_cannot_serve_gives_way_to_the_next_rule(plan):
    # p/byte2 is in no chain of r/content: a rule may name any model of the kind, which then goes first.
    assert order(plan, "r/content", tts("你好", unsuitable=frozenset({"p/byte"}))) == (
        ["p/byte2", "r/content", "p/byte"], "content:cjk>=0.3")
    assert order(plan, "r/content", tts("你好"), ProviderState(skipped=frozenset({"pb"})))[0][0] == "p/byte2"
    both = order(plan, "r/content", tts("你好"), ProviderState(skipped=frozenset({"pb", "pc"})))
    assert both == (["r/content", "p/byte"], "chain")  # no eligible rule matched: the chain, unchanged


def test_rule_conditions_all_hold(plan):
    assert order(plan, "r/content", tts("Hi", voice="nova", response_format="aac")) == (
        ["p/char", "r/content", "p/byte"], "content:nova-aac")
    assert order(plan, "r/content", tts("Hi", voice="nova", response_format="mp3"))[1] == "chain"
    assert order(plan, "r/content", tts("Hi", voice="alloy", response_format="aac"))[1] == "chain"


def test_a_plain_model_keeps_its_chain_whatever_the_state(plan):
    route = plan.routes["p/char"]
    decision = decide(route, tts("你好"), ProviderState(skipped=frozenset({"pa"})))
    assert decision.targets == route.targets and decision.reason == "chain"


@pytest.mark.parametrize("text, first", [
    ("Hello there, plain ASCII", "p/byte"),      # 24 bytes x 7 < 24 chars x 15
    ("你好世界", "p/char"),                        # 12 bytes x 7 = 84 > 4 chars x 15 = 60
    ("Привет", "p/byte"),                          # 12 bytes x 7 = 84 < 6 x 15 = 90
    ("नमस्ते", "p/char"),                           # 18 bytes x 7 = 126 > 6 x 15 = 90
])
def test_cheapest_prices_this_request(plan, text, first):
    targets, reason = order(plan, "r/cheapest", tts(text))
    assert (targets[0], reason) == (first, "cheapest")
    prices = [request_price(t, tts(text)) for t in decide(plan.routes["r/cheapest"], tts(text)).targets[:4]]
    assert prices == sorted(prices)


def test_cheapest_ties_keep_the_declared_order_and_the_tail_follows(plan):
    targets, _ = order(plan, "r/cheapest", tts("ascii"))
    assert targets.index("p/byte") + 1 == targets.index("p/byte2")  # same price: as declared
    assert targets[-1] == "p/last"                                   # p/char's fallback, not priced


def test_cheapest_prices_instructions_only_where_the_target_takes_them(plan):
    steer = next(t for t in plan.routes["r/cheapest"].routing.candidates if t.model.id == "p/steer")
    char = next(t for t in plan.routes["r/cheapest"].routing.candidates if t.model.id == "p/char")
    plain, instructed = tts("Hello"), tts("Hello", instructions="speak slowly and warmly, like a narrator")
    assert request_price(steer, instructed) > request_price(steer, plain)
    assert request_price(char, instructed) == request_price(char, plain) == Decimal(5 * 15) / 1_000_000


def test_cheapest_never_picks_what_cannot_serve(plan):
    targets, reason = order(plan, "r/cheapest", tts("ascii", unsuitable=frozenset({"p/byte"})),
                            ProviderState(skipped=frozenset({"pc"})))
    assert targets[:2] == ["p/char", "p/steer"] and reason == "cheapest"
    assert set(targets[2:]) == {"p/byte", "p/byte2", "p/last"}  # still listed, so serve_first records them


def latency(**ms: tuple[float, int]) -> ProviderState:
    return ProviderState(latency={name: LatencyView(ewma_ms=v, samples=n) for name, (v, n) in ms.items()})


@pytest.mark.parametrize("state, first, reason", [
    (ProviderState(), "p/char", "fastest:unmeasured"),                               # nothing known: declared
    (latency(pa=(50, 3), pb=(20, 3)), "p/byte2", "fastest:unmeasured"),              # pc never measured yet
    (latency(pa=(50, 3), pb=(20, 3), pc=(90, 3)), "p/byte", "fastest"),
    (latency(pa=(50, 3), pb=(20, 2), pc=(90, 3)), "p/byte", "fastest:unmeasured"),   # 2 < min_samples
    (latency(pa=(50, 9), pb=(50, 9), pc=(50, 9)), "p/char", "fastest"),              # tie: declared order
    (latency(pa=(50, 9), pb=(10, 9), pc=(90, 9)), "p/byte", "fastest"),
])
def test_fastest_trusts_only_enough_recent_samples(plan, state, first, reason):
    targets, why = order(plan, "r/fastest", tts(), state)
    assert (targets[0], why) == (first, reason)


def test_fastest_flips_when_the_fast_provider_slows_and_skips_open_breakers(plan):
    fast_b = latency(pa=(80, 5), pb=(20, 5), pc=(60, 5))
    assert order(plan, "r/fastest", tts(), fast_b)[0][:3] == ["p/byte", "p/byte2", "p/char"]
    slow_b = latency(pa=(80, 5), pb=(200, 6), pc=(60, 5))
    assert order(plan, "r/fastest", tts(), slow_b)[0][:3] == ["p/byte2", "p/char", "p/byte"]
    open_c = ProviderState(skipped=frozenset({"pc"}), latency=slow_b.latency)
    assert order(plan, "r/fastest", tts(), open_c)[0][:3] == ["p/char", "p/byte", "p/byte2"]  # moved last


def test_weighted_is_deterministic_per_request_id(plan):
    picks = {order(plan, "r/weighted", tts(request_id="req_abc"))[1] for _ in range(5)}
    assert len(picks) == 1
    targets, reason = order(plan, "r/weighted", tts(request_id="req_abc"))
    assert reason == f"weighted:{targets[0]}"
    assert targets[1:] == [t for t in ["p/char", "p/byte", "p/byte2"] if t != targets[0]] + ["p/last"]


def test_weighted_converges_to_its_weights():
    counts = collections.Counter(weighted_index([6, 3, 1], f"model\0req_{i:06d}") for i in range(30_000))
    shares = [counts[i] / 30_000 for i in range(3)]
    assert shares == pytest.approx([0.6, 0.3, 0.1], abs=0.01)


def test_weighted_through_the_router_converges_and_skips_what_cannot_serve(plan):
    route = plan.routes["r/weighted"]
    counts = collections.Counter(decide(route, tts(request_id=f"id-{i}")).targets[0].model.id for i in range(6000))
    assert counts["p/char"] / 6000 == pytest.approx(0.6, abs=0.03)
    assert counts["p/byte2"] / 6000 == pytest.approx(0.1, abs=0.02)
    without_a = collections.Counter(decide(route, tts(request_id=f"id-{i}"), ProviderState(skipped=frozenset({"pa"})))
                                    .targets[0].model.id for i in range(4000))
    assert set(without_a) == {"p/byte", "p/byte2"}
    assert without_a["p/byte"] / 4000 == pytest.approx(0.75, abs=0.03)  # 3 : 1 among those left


@pytest.mark.parametrize("facts, first, reason", [
    (RouteFacts(kind="stt", language="zh", audio_seconds=Decimal(5)), "s/two", "content:language=zh,ja"),
    (RouteFacts(kind="stt", language="en", audio_seconds=Decimal(5)), "s/one", "cheapest"),     # tie: declared
    (RouteFacts(kind="stt", audio_seconds=Decimal(5)), "s/one", "cheapest"),
    (RouteFacts(kind="stt", audio_seconds=Decimal(600)), "s/cheap", "content:long"),
    (RouteFacts(kind="stt", audio_seconds=Decimal("599.9")), "s/one", "cheapest"),
    (RouteFacts(kind="stt", language="ja", audio_seconds=Decimal(5), unsuitable=frozenset({"s/two"})), "s/one", "cheapest"),
])
def test_transcription_rules_read_language_and_duration(plan, facts, first, reason):
    assert order(plan, "r/stt", facts)[0][0] == first
    assert order(plan, "r/stt", facts)[1] == reason


def test_a_virtual_models_face_is_its_targets_widest(plan):
    route = plan.routes["r/cheapest"]
    assert route.model.virtual and route.model.provider == "" and route.model.billing == ()
    caps = route.model.capabilities
    assert caps.response_formats == ("mp3", "aac") and caps.max_input_chars == 1000 and caps.instructions
    assert route.targets[0].model.id == "p/char" and route.model.voices == "v"
    assert {t.model.id for t in reachable(plan.routes["r/stt"])} == {"s/one", "s/two", "s/cheap"}
    assert not plan.routes["p/char"].model.virtual
