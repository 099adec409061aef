"""The row codec's fast conversions give exactly the text the slow, obvious ones give.

The SQLite binder cuts its DATETIME text out of msgspec's RFC 3339 and formats decimals with `str`
when it can (sqlite.py, schema.py say why); a row written so must read back as the same instant and
the same digits, and sort in time order, whatever the value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from audio_gateway.ledger.schema import exact_text
from audio_gateway.ledger.sqlite import _SqliteBinder

_ZONES = st.builds(lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-23 * 60, 23 * 60))
_TIMES = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31),
                      timezones=st.one_of(st.just(UTC), _ZONES))


@settings(max_examples=500, deadline=None)
@given(_TIMES)
def test_the_sqlite_time_text_is_sqlalchemys_fixed_width_naive_utc(value):
    slow = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    assert _SqliteBinder.utc(value) == slow
    assert len(slow) == 26


@settings(max_examples=300, deadline=None)
@given(st.lists(_TIMES, min_size=2, max_size=8))
def test_the_sqlite_time_text_sorts_as_the_instants_do(values):
    texts = [_SqliteBinder.utc(v) for v in values]
    assert sorted(texts) == [_SqliteBinder.utc(v) for v in sorted(values)]


@settings(max_examples=1000, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_exact_text_is_plain_notation_with_every_digit(value):
    text = exact_text(value)
    assert text == format(value, "f")
    assert "E" not in text and Decimal(text) == value
    assert Decimal(text).as_tuple() == value.as_tuple() or value.as_tuple().exponent > 0


def test_exact_text_of_values_str_would_write_with_an_exponent():
    assert [exact_text(Decimal(v)) for v in ("1.5E-7", "1E+2", "0.0000150", "-0")] == \
        ["0.00000015", "100", "0.0000150", "-0"]


def test_sqlite_flags_are_the_ints_sqlalchemys_boolean_stores():
    assert (_SqliteBinder.flag(True), _SqliteBinder.flag(False)) == (1, 0)
    assert type(_SqliteBinder.flag(True)) is int
