"""Money crosses into a limit store as whole nano-dollars, rounded up (model.py says why)."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from audio_gateway.limits.model import from_nano, to_nano


@settings(max_examples=500, deadline=None)
@given(st.decimals(min_value=-10**6, max_value=10**6, allow_nan=False, allow_infinity=False))
def test_nano_dollars_are_the_amount_rounded_up(usd: Decimal) -> None:
    nano = to_nano(usd)
    assert type(nano) is int
    assert nano == int((usd * Decimal(10) ** 9).to_integral_value(rounding=ROUND_CEILING))
    assert from_nano(nano) >= usd > from_nano(nano - 1)


def test_a_fraction_of_a_nano_dollar_is_a_whole_one() -> None:
    assert [to_nano(Decimal(v)) for v in ("0.0000000001", "0.000450", "0", "-0.0000000001")] == [1, 450_000, 0, 0]
