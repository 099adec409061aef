"""Billing properties beyond tests/unit/test_pure_core.py: every unit, every rounding rule, any text.

The catalog may price characters, UTF-8 bytes, tokens, seconds (a `minute` is compiled to seconds with a
60x `per`) and requests; whatever it says and whatever a request measured, a charge is never negative,
billed seconds obey their rounding rule, and a byte is a byte of the UTF-8 the provider receives.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audio_gateway.billing import (
    RequestFacts,
    Unit,
    Usage,
    count_tokens,
    expected_quantities,
    expected_total_pricer,
    expected_usage,
    measure,
    price,
    round_seconds,
    total_usd,
)
from audio_gateway.catalog.compile import _normalise_billing
from audio_gateway.catalog.model import BillingComponent, Estimate

INCREMENTS = [Decimal("0.001"), Decimal("0.1"), Decimal(1), Decimal(15), Decimal(60)]
durations = st.decimals(min_value=-10, max_value=10**7, places=6, allow_nan=False, allow_infinity=False)
components = st.builds(
    BillingComponent,
    unit=st.sampled_from(["character", "utf8_byte", "input_token", "output_token", "second", "request"]),
    price_usd=st.decimals(min_value=0, max_value=1000, places=6),
    per=st.integers(1, 10**6),
    round_to_seconds=st.sampled_from(INCREMENTS),
    rounding=st.sampled_from(["up", "down", "nearest"]),
)
usages = st.builds(
    lambda c, b, i, o, s, r: Usage.of(character=c, utf8_byte=b, input_token=i, output_token=o, second=s, request=r),
    st.integers(0, 10**9), st.integers(0, 4 * 10**9), st.integers(0, 10**9), st.integers(0, 10**9), durations,
    st.integers(0, 10),
)


count_tokens("warm the o200k table up", "o200k_base")  # loaded once, not inside a timed example


def speech_usage(text: str, components: list[BillingComponent]) -> Usage:
    return measure(RequestFacts(kind="tts", text=text), components)


@given(durations, st.sampled_from(INCREMENTS), st.sampled_from(["up", "down", "nearest"]))
def test_billed_seconds_are_whole_increments_on_the_rules_side(seconds: Decimal, increment: Decimal, mode: str) -> None:
    billed = round_seconds(seconds, increment, mode)
    assert billed >= 0
    assert billed % increment == 0
    if seconds <= 0:
        assert billed == 0
        return
    if mode == "up":
        assert seconds <= billed < seconds + increment
    elif mode == "down":
        assert seconds - increment < billed <= seconds
    else:
        assert abs(billed - seconds) <= increment / 2


@given(durations, durations, st.sampled_from(INCREMENTS), st.sampled_from(["up", "down", "nearest"]))
def test_longer_audio_never_bills_less(a: Decimal, b: Decimal, increment: Decimal, mode: str) -> None:
    shorter, longer = sorted((a, b))
    assert round_seconds(shorter, increment, mode) <= round_seconds(longer, increment, mode)


@given(st.decimals(min_value=0, max_value=10**6, places=3), st.decimals(min_value=0, max_value=100, places=4),
       st.sampled_from(INCREMENTS), st.sampled_from(["up", "down", "nearest"]))
def test_a_minute_price_is_the_same_money_as_its_per_second_rate(seconds, per_minute, increment, mode) -> None:
    """`unit: minute` compiles to seconds with per x 60; the charge equals billed seconds / 60 x price."""
    [compiled] = _normalise_billing({"billing": [{"unit": "minute", "price_usd": per_minute,
                                                  "round_to_seconds": increment, "rounding": mode}]})["billing"]
    component = BillingComponent(**compiled)
    assert (component.unit, component.per) == ("second", 60)
    charge = price([component], Usage.of(second=seconds))
    billed = round_seconds(seconds, increment, mode)
    assert charge.lines[0].quantity == billed
    assert charge.total_usd == billed * per_minute / 60


@given(st.lists(components, min_size=1, max_size=6), usages)
def test_any_catalog_prices_any_usage_at_zero_or_more(parts: list[BillingComponent], usage: Usage) -> None:
    charge = price(parts, usage)
    assert [line.unit for line in charge.lines] == [c.unit for c in parts]
    assert all(line.quantity >= 0 and line.usd >= 0 for line in charge.lines)
    assert charge.total_usd == sum(line.usd for line in charge.lines) >= 0
    assert charge.primary is charge.lines[0]


EDGE_TEXTS = [
    "", "\x00", "\x7f", "\x80", "\u07ff", "\u0800", "\ufeff", "\uffff", "\U00010000", "\U0010ffff",
    "e\u0301", "👩‍👩‍👧‍👦", "🇺🇳", "\ud7ff\ue000", "a\r\nb\u2028c", "漢字かな交じり文", "\u200b\u200d",
]
UTF8_WIDTHS = {1: (0, 0x7F), 2: (0x80, 0x7FF), 3: (0x800, 0xFFFF), 4: (0x10000, 0x10FFFF)}
one_width_texts = st.sampled_from(sorted(UTF8_WIDTHS)).flatmap(lambda width: st.tuples(st.just(width), st.text(
    st.characters(min_codepoint=UTF8_WIDTHS[width][0], max_codepoint=UTF8_WIDTHS[width][1], codec="utf-8"))))


@pytest.mark.parametrize("text", EDGE_TEXTS, ids=ascii)
def test_utf8_bytes_at_encoding_boundaries(text: str) -> None:
    usage = speech_usage(text, [BillingComponent(unit="utf8_byte", price_usd=Decimal(1)),
                                BillingComponent(unit="character", price_usd=Decimal(1))])
    assert usage.get(Unit.UTF8_BYTE) == len(text.encode()) and usage.get(Unit.CHARACTER) == len(text)


@given(one_width_texts)
def test_utf8_bytes_match_the_encoding_in_every_width_class(width_and_text: tuple[int, str]) -> None:
    width, text = width_and_text
    usage = speech_usage(text, [BillingComponent(unit="utf8_byte", price_usd=Decimal(1))])
    assert usage.get(Unit.UTF8_BYTE) == len(text.encode()) == width * len(text)


@given(st.text(st.characters(codec="utf-8"), max_size=200))
def test_tokens_are_counted_only_when_priced_and_never_negative(text: str) -> None:
    token = BillingComponent(unit="input_token", price_usd=Decimal("0.6"), per=10**6, tokenizer="o200k_base")
    assert Unit.INPUT_TOKEN not in speech_usage(text, [BillingComponent(unit="character", price_usd=Decimal(1))])
    counted = speech_usage(text, [token]).get(Unit.INPUT_TOKEN)
    assert counted == count_tokens(text, "o200k_base") >= 0
    assert (counted == 0) == (text == "")


@given(st.lists(components, min_size=0, max_size=6), usages)
def test_total_usd_is_the_priced_total_to_the_last_digit(billing: list[BillingComponent], usage: Usage) -> None:
    """What a budget reserves (`total_usd`, no lines built) is the charge's total, digits and exponent alike."""
    assert str(total_usd(billing, usage)) == str(price(billing, usage).total_usd)


estimated_components = st.builds(
    BillingComponent,
    unit=st.sampled_from(list(Unit)),           # two provider-reported units: one estimate may not feed another
    price_usd=st.decimals(min_value=0, max_value=1000, places=6),
    per=st.integers(1, 10**6),
    tokenizer=st.sampled_from([None, "o200k_base", "cl100k_base"]),
    round_to_seconds=st.sampled_from(INCREMENTS),
    rounding=st.sampled_from(["up", "down", "nearest"]),
    estimate=st.one_of(st.none(), st.builds(
        Estimate, from_=st.sampled_from(list(Unit)), ratio=st.decimals(min_value=0, max_value=50, places=3))),
)
facts = st.one_of(
    st.builds(RequestFacts, kind=st.just("tts"), text=st.text(max_size=60), instructions=st.text(max_size=20)),
    st.builds(RequestFacts, kind=st.just("stt"), prompt=st.text(max_size=40),
              audio_seconds=st.decimals(min_value=0, max_value=10**5, places=3)),
)


@settings(max_examples=300, deadline=None)   # the first cl100k_base count loads its table
@given(facts, st.lists(estimated_components, min_size=0, max_size=6))
def test_expected_quantities_are_the_expected_usage_in_one_pass(request_facts: RequestFacts,
                                                                billing: list[BillingComponent]) -> None:
    """What a budget reserves is computed without the Usage values in between: the very same quantities,
    so the very same reservation, digits and exponent alike."""
    usage = expected_usage(request_facts, billing)
    quantities = expected_quantities(request_facts, billing)
    assert quantities == dict(usage.quantities)
    assert {u: str(q) for u, q in quantities.items()} == {u: str(q) for u, q in usage.quantities.items()}
    assert str(total_usd(billing, quantities)) == str(total_usd(billing, usage))
    # What limits/cost.py reserves per target: the same amount, whichever way the pricer sums it.
    pricer = expected_total_pricer(billing)
    assert (pricer(request_facts) if pricer is not None else Decimal(0)) == total_usd(billing, quantities)


@settings(max_examples=300, deadline=None)
@given(facts, st.lists(st.builds(BillingComponent, unit=st.sampled_from(list(Unit)),
                                 price_usd=st.decimals(min_value=0, max_value=1000, places=6),
                                 per=st.integers(1, 10**6), tokenizer=st.sampled_from([None, "cl100k_base"])),
                       min_size=0, max_size=4, unique_by=lambda component: component.unit))
def test_the_compiled_pricer_of_plain_billing_is_the_expected_total(request_facts: RequestFacts,
                                                                    billing: list[BillingComponent]) -> None:
    """Billing with no estimates and no unit twice (every shipped model's) takes the pricer's direct sum:
    still the very amount `price` would charge for the expected usage."""
    pricer = expected_total_pricer(billing)
    expected = total_usd(billing, expected_usage(request_facts, billing))
    assert (pricer(request_facts) if pricer is not None else Decimal(0)) == expected
    assert (pricer is None) == (not any(component.price_usd for component in billing))


def test_an_estimate_is_never_the_basis_of_another() -> None:
    """`estimates` reads only what was measured: output tokens estimated from characters do not, in
    turn, make audio input tokens estimated from output tokens anything but zero."""
    billing = [BillingComponent(unit=Unit.OUTPUT_TOKEN, price_usd=Decimal(1),
                                estimate=Estimate(from_=Unit.CHARACTER, ratio=Decimal(2))),
               BillingComponent(unit=Unit.AUDIO_INPUT_TOKEN, price_usd=Decimal(1),
                                estimate=Estimate(from_=Unit.OUTPUT_TOKEN, ratio=Decimal(3)))]
    speech = RequestFacts(kind="tts", text="four")
    assert expected_quantities(speech, billing) == dict(expected_usage(speech, billing).quantities)
    assert expected_quantities(speech, billing)[Unit.AUDIO_INPUT_TOKEN] == 0
