"""What the limit stores are asked and answer: frozen Structs, amounts of money in whole nano-dollars.

Money crosses into a limit store as an integer count of nano-dollars (1e-9 USD), rounded up: Redis's
Lua has only doubles, which are exact for integers up to 2^53 (nine million dollars of nano-dollars),
and rounding reservations and costs up means the counters can only err towards refusing. The exact
Decimal spend stays in the ledger, which is what `keys list` and the usage API report.
"""

from __future__ import annotations

import math
from decimal import Decimal
from enum import StrEnum

import msgspec

__all__ = ["Dimension", "RateRule", "RateState", "RateVerdict", "Reserved", "Settled", "BudgetAsk", "Admitted",
           "to_nano", "from_nano"]

_NANO = Decimal(10) ** 9


def to_nano(usd: Decimal) -> int:
    return math.ceil(usd * _NANO)   # Decimal.__ceil__: the exact integer, without a rounding keyword to parse


def from_nano(nano: int) -> Decimal:
    return (Decimal(nano) / _NANO).normalize()


class Dimension(StrEnum):
    """What a rate limit counts; the value is the suffix of its `x-ratelimit-*` headers."""

    REQUESTS = "requests"
    CHARACTERS = "characters"
    AUDIO_SECONDS = "audio-seconds"


class RateRule(msgspec.Struct, frozen=True):
    """A token bucket: `per_minute` tokens of capacity, refilled at per_minute/60 a second; `cost` taken now."""

    dimension: Dimension
    per_minute: int
    cost: float = 0.0


class RateState(msgspec.Struct, frozen=True):
    dimension: Dimension
    limit: int
    remaining: float
    reset_seconds: float          # until the bucket is full again


class RateVerdict(msgspec.Struct, frozen=True):
    allowed: bool
    states: tuple[RateState, ...]
    retry_after: float = 0.0      # seconds until every refused bucket holds its cost
    refused: Dimension | None = None


class Reserved(msgspec.Struct, frozen=True):
    allowed: bool
    spent: int                    # nano-dollars settled in the period (seeded from the ledger)
    held: int                     # nano-dollars held by open reservations, this one included when allowed


class Settled(msgspec.Struct, frozen=True):
    account: str                  # "<key>:<period>:<period start>"
    spent: int
    budget: int
    warn: bool                    # the spend reached 80 % of the budget for the first time this period


class BudgetAsk(msgspec.Struct, frozen=True, kw_only=True):
    """Hold `amount` on `account` (a key's budget in one period) under `reservation`, within `budget`."""

    account: str
    reservation: str
    amount: int
    budget: int
    hold_until: float
    expire_at: float | None       # when the account may be forgotten (a day after its period); None: never


class Admitted(msgspec.Struct, frozen=True):
    """The budget and the buckets checked together: both taken, or neither."""

    outcome: str                  # "ok", "over_budget" or "rate_limited"
    reserved: Reserved | None = None
    rate: RateVerdict | None = None
