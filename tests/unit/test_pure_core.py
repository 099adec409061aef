"""Pure core, table-driven and property-based: pricing, voice mapping, fallback policy."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audio_gateway.billing import RequestFacts, Unit, Usage, measure, price, round_seconds
from audio_gateway.catalog.model import BillingComponent, VoiceSet
from audio_gateway.providers.base import UpstreamFailure
from audio_gateway.routing import falls_back
from audio_gateway.speech import UnknownVoice, resolve_voice

CHARS = BillingComponent(unit="character", price_usd=Decimal(15), per=1_000_000)
BYTES = BillingComponent(unit="utf8_byte", price_usd=Decimal("7.15"), per=1_000_000)
TOKENS = BillingComponent(unit="input_token", price_usd=Decimal("0.60"), per=1_000_000, tokenizer="o200k_base")
SECONDS = BillingComponent(unit="second", price_usd=Decimal("0.006"), per=60)


@pytest.mark.parametrize("seconds, increment, mode, expected", [
    ("30.0", "1", "up", "30"), ("30.001", "1", "up", "31"), ("0.2", "1", "up", "1"), ("0", "1", "up", "0"),
    ("29.5", "1", "nearest", "30"), ("29.4", "1", "nearest", "29"), ("29.9", "1", "down", "29"),
    ("61", "15", "up", "75"), ("-3", "1", "up", "0"),
])
def test_round_seconds(seconds, increment, mode, expected):
    assert round_seconds(Decimal(seconds), Decimal(increment), mode) == Decimal(expected)


def test_thirty_seconds_at_six_tenths_of_a_cent_per_minute():
    assert price([SECONDS], Usage.of(second=Decimal(30))).total_usd == Decimal("0.003")


@given(st.text())
def test_utf8_bytes_and_characters_for_any_unicode(text):
    usage = measure(RequestFacts(kind="tts", text=text), [CHARS, BYTES])
    assert usage.get(Unit.CHARACTER) == len(text)
    assert usage.get(Unit.UTF8_BYTE) == len(text.encode("utf-8", "surrogatepass"))
    charge = price([CHARS, BYTES], usage)
    assert charge.total_usd == (Decimal(len(text)) * 15 + usage.quantities[Unit.UTF8_BYTE] * Decimal("7.15")) / 1_000_000


@given(st.integers(0, 10**9), st.integers(0, 10**9), st.decimals(0, 10**6, places=3))
def test_cost_is_never_negative_and_adds_up(chars, tokens, seconds):
    charge = price([CHARS, TOKENS, SECONDS], Usage.of(character=chars, input_token=tokens, second=seconds))
    assert charge.total_usd >= 0
    assert charge.total_usd == sum(line.usd for line in charge.lines)


SILICONFLOW = VoiceSet(name="sf", voices=("alex", "anna"), default="alex", unknown="default", map={"nova": "anna"})
OPENAI = VoiceSet(name="oa", voices=("alloy", "nova"), default="alloy", unknown="reject", custom_voice_ids=True)


@given(st.one_of(st.text(), st.builds(lambda i: {"id": i}, st.text())))
def test_a_default_voice_set_always_yields_one_of_its_voices(voice):
    assert resolve_voice(SILICONFLOW, voice) in SILICONFLOW.voices


@given(st.text())
def test_a_rejecting_voice_set_accepts_exactly_its_voices(voice):
    if voice in OPENAI.voices:
        assert resolve_voice(OPENAI, voice) == voice
    else:
        with pytest.raises(UnknownVoice):
            resolve_voice(OPENAI, voice)


def test_custom_voice_ids_pass_only_where_allowed():
    assert resolve_voice(OPENAI, {"id": "voice_1"}) == {"id": "voice_1"}
    assert resolve_voice(SILICONFLOW, {"id": "voice_1"}) == "alex"
    assert resolve_voice(SILICONFLOW, "nova") == "anna"


@pytest.mark.parametrize("failure, expected", [
    (UpstreamFailure("connect", "refused"), True),
    (UpstreamFailure("timeout", "slow"), True),
    (UpstreamFailure("malformed", "junk"), True),
    *[(UpstreamFailure("status", "x", status=s), True) for s in (401, 403, 404, 408, 429, 500, 502, 503, 504)],
    *[(UpstreamFailure("status", "x", status=s), False) for s in (400, 413, 415, 422)],
])
def test_fallback_policy(failure, expected):
    assert falls_back(failure) is expected
