"""What a key is: its name, the digest of its secret, whether it is an admin key, and its limits.

Frozen Structs: the cache hands the same record to every request, and an update replaces it whole.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

import msgspec

__all__ = ["KeyLimits", "KeyRecord", "Period", "PERIODS"]

Period = Literal["day", "week", "month", "total"]
PERIODS: tuple[Period, ...] = ("day", "week", "month", "total")


class KeyLimits(msgspec.Struct, frozen=True, kw_only=True):
    """None means "no limit" for every field; `models` None means every model."""

    models: tuple[str, ...] | None = None
    budget_usd: Decimal | None = None
    budget_period: Period | None = None
    rpm: int | None = None
    characters_per_minute: int | None = None
    audio_seconds_per_minute: int | None = None

    @property
    def rate_limited(self) -> bool:
        return (self.rpm is not None or self.characters_per_minute is not None
                or self.audio_seconds_per_minute is not None)

    @property
    def budgeted(self) -> bool:
        return self.budget_usd is not None

    @property
    def limited(self) -> bool:
        """Anything a request must be checked against before it is served."""
        return self.models is not None or self.budgeted or self.rate_limited

    def allows(self, model: str) -> bool:
        return self.models is None or model in self.models


UNLIMITED = KeyLimits()


class KeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    digest: str                      # hex SHA-256 of the secret; the secret itself is never stored
    admin: bool = False
    limits: KeyLimits = UNLIMITED
    created_at: datetime
    last_used_at: datetime | None = None
