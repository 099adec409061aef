"""The key operations both front ends share (CLI `keys ...`, HTTP `/v1/gateway/keys`), and the public view.

A key's view never holds its secret; the secret is returned once, by `create`. Spend in the current
period is the ledger's exact sum for the key's name since the period began (the budget's period, or
the calendar month for a key without a budget).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from ..billing import decimal_text
from ..ledger.store import LedgerStore
from .model import KeyLimits, KeyRecord
from .periods import period_end, period_start
from .secrets import digest_of, new_secret
from .spec import KeyCreate, KeyInputError, KeyPatch, check_name, limits_for, patched
from .store import DuplicateKey, KeyStore, UnknownKey

__all__ = ["KeyAdmin", "key_view", "iso"]

Resolve = Callable[[str], str | None]


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def key_view(record: KeyRecord, spend: Decimal, now: datetime) -> dict[str, Any]:
    """The JSON shape of a key (HTTP API and `keys list --format json`): stable, documented in README."""
    limits = record.limits
    period = limits.budget_period or "month"
    return {
        "object": "gateway.key",
        "name": record.name,
        "admin": record.admin,
        "models": list(limits.models) if limits.models is not None else None,
        "budget_usd": decimal_text(limits.budget_usd) if limits.budget_usd is not None else None,
        "budget_period": limits.budget_period,
        "rpm": limits.rpm,
        "characters_per_minute": limits.characters_per_minute,
        "audio_seconds_per_minute": limits.audio_seconds_per_minute,
        "created_at": iso(record.created_at),
        "last_used_at": iso(record.last_used_at),
        "spend_usd": decimal_text(spend),
        "period_start": iso(period_start(period, now)),
        "resets_at": iso(period_end(period, now)),
    }


class KeyAdmin:
    """Create, list, update and revoke, checked first (a `KeyInputError` names the field), then written."""

    def __init__(self, keys: KeyStore, ledger: LedgerStore, *, resolve: Resolve, reserved: Collection[str] = (),
                 clock: Callable[[], datetime]):
        self.keys, self.ledger, self.resolve, self.reserved, self.clock = keys, ledger, resolve, reserved, clock

    async def spend(self, record: KeyRecord, now: datetime) -> Decimal:
        return await self.ledger.spend_since(record.name, period_start(record.limits.budget_period or "month", now))

    async def view(self, record: KeyRecord) -> dict[str, Any]:
        now = self.clock()
        return key_view(record, await self.spend(record, now), now)

    async def create(self, spec: KeyCreate) -> tuple[KeyRecord, str]:
        name = check_name(spec.name, self.reserved)
        limits = limits_for(spec, self.resolve)
        secret = new_secret()
        record = KeyRecord(name=name, digest=digest_of(secret), admin=spec.admin, limits=limits,
                           created_at=self.clock())
        try:
            await self.keys.create(record)
        except DuplicateKey:
            raise KeyInputError("name", f"a key named {name!r} exists already") from None
        return record, secret

    async def list(self) -> list[dict[str, Any]]:
        return [await self.view(record) for record in await self.keys.all()]

    async def get(self, name: str) -> KeyRecord:
        record = await self.keys.get(name)
        if record is None:
            raise UnknownKey(name)
        return record

    async def update(self, name: str, patch: KeyPatch) -> KeyRecord:
        current = await self.get(name)
        limits: KeyLimits = patched(current.limits, patch, self.resolve)
        admin = current.admin if patch.admin is msgspec.UNSET else bool(patch.admin)
        return await self.keys.update(name, limits, admin=admin)

    async def revoke(self, name: str) -> None:
        await self.keys.delete(name)
