"""The token bucket as a pure function; redis.py's Lua script is the same arithmetic, line for line.

Token bucket rather than a sliding window: one (tokens, timestamp) pair per key and dimension, so a
check is O(1) in memory and in Redis whatever the traffic, and a burst of up to the per-minute
limit is allowed after a quiet minute (OpenAI's limits behave the same way). All buckets a request
touches are checked first and charged only if every one has room: a refused request takes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from .model import RateRule, RateState, RateVerdict

__all__ = ["take"]

# Refills are float arithmetic: a bucket refilled to 0.99999999999997 of a token holds one token.
_EPSILON = 1e-9


def take(levels: Sequence[tuple[float, float] | None], rules: Sequence[RateRule], now: float, *, charge: bool = True
         ) -> tuple[RateVerdict, list[tuple[float, float]]]:
    """`levels[i]` is rule i's stored (tokens, updated), None for a full bucket; returns the verdict and the
    levels to store (updated to `now`; charged only when allowed and `charge`).

    One pass to refill and check, one to charge, with no helper calls: every request of a rate-limited
    key runs this for each of its buckets."""
    current = []
    retry, refused = 0.0, None
    for level, rule in zip(levels, rules, strict=True):
        per_minute = rule.per_minute
        if level is None:
            tokens = float(per_minute)
        else:
            tokens, updated = level
            if now > updated:
                tokens += (now - updated) * per_minute / 60.0
                if tokens > per_minute:
                    tokens = float(per_minute)
        current.append(tokens)
        if rule.cost > tokens + _EPSILON:
            wait = (rule.cost - tokens) * 60.0 / per_minute
            if refused is None or wait > retry:
                retry, refused = wait, rule.dimension
    charged = refused is None and charge
    states, stored = [], []
    for tokens, rule in zip(current, rules):
        if charged:
            tokens -= rule.cost
        per_minute = rule.per_minute
        states.append(RateState(rule.dimension, per_minute, tokens if tokens > 0.0 else 0.0,
                                (per_minute - tokens) * 60.0 / per_minute))
        stored.append((tokens, now))
    return RateVerdict(refused is None, tuple(states), retry, refused), stored
