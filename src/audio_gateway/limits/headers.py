"""OpenAI's `x-ratelimit-*` headers from bucket states (pure), and its duration format ("1s", "6m0s", "20ms")."""

from __future__ import annotations

import math
from collections.abc import Iterable

from .model import Dimension, RateState

__all__ = ["rate_headers", "duration_text"]


def duration_text(seconds: float) -> str:
    """As OpenAI writes resets: milliseconds under a second, else [Nm]S.s with up to three decimals."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{math.ceil(rest * 1000) / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{int(minutes)}m{text}s" if minutes else f"{text}s"


# Per dimension: the three header names, built once.
_NAMES = {dimension: tuple(f"x-ratelimit-{part}-{dimension}".encode() for part in ("limit", "remaining", "reset"))
          for dimension in Dimension}


def rate_headers(states: Iterable[RateState]) -> list[tuple[bytes, bytes]]:
    """Three headers per bucket, on every response of a rate-limited key. `remaining` is never negative,
    so %d's truncation is its floor."""
    out: list[tuple[bytes, bytes]] = []
    for state in states:
        limit, remaining, reset = _NAMES[state.dimension]
        out += ((limit, b"%d" % state.limit), (remaining, b"%d" % state.remaining),
                (reset, duration_text(state.reset_seconds).encode()))
    return out
