"""The in-process limit store: exact for one process (one event loop, no await inside an operation)."""

from __future__ import annotations

from collections.abc import Sequence

from .bucket import take
from .model import RateRule, RateVerdict, Reserved, Settled
from .store import LimitStore

__all__ = ["MemoryLimitStore"]


class _Account:
    __slots__ = ("spent", "budget", "holds", "warned")

    def __init__(self, spent: int):
        self.spent = spent
        self.budget = 0
        self.holds: dict[str, tuple[int, float]] = {}
        self.warned = False


class MemoryLimitStore(LimitStore):
    name = "memory"
    remote = False

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._accounts: dict[str, _Account] = {}
        self._reservations: dict[str, str] = {}

    async def take(self, key: str, rules: Sequence[RateRule], now: float, *, charge: bool = True) -> RateVerdict:
        names = [(key, str(rule.dimension)) for rule in rules]
        verdict, levels = take([self._buckets.get(name) for name in names], rules, now, charge=charge)
        if charge:
            self._buckets.update(zip(names, levels, strict=True))
        return verdict

    async def _reserve(self, account: str, reservation: str, amount: int, budget: int, now: float,
                       hold_until: float, expire_at: float | None, seed: int | None) -> Reserved | None:
        found = self._accounts.get(account)
        if found is None:
            if seed is None:
                return None
            found = self._accounts[account] = _Account(seed)
        for rid, (_, until) in list(found.holds.items()):
            if until <= now:
                del found.holds[rid]
        held = sum(held for held, _ in found.holds.values())
        found.budget = budget
        if found.spent + held + amount > budget:
            return Reserved(allowed=False, spent=found.spent, held=held)
        found.holds[reservation] = (amount, hold_until)
        self._reservations[reservation] = account
        return Reserved(allowed=True, spent=found.spent, held=held + amount)

    def _drop(self, reservation: str) -> tuple[str, _Account] | None:
        name = self._reservations.pop(reservation, None)
        account = self._accounts.get(name) if name is not None else None
        if name is None or account is None:
            return None
        account.holds.pop(reservation, None)
        return name, account

    async def settle(self, reservation: str, cost: int, account: str | None = None) -> Settled | None:
        found = self._drop(reservation)
        if found is None:
            return None
        name, held_on = found
        held_on.spent += cost
        warn = held_on.budget > 0 and not held_on.warned and held_on.spent * 5 >= held_on.budget * 4
        held_on.warned = held_on.warned or warn
        return Settled(account=name, spent=held_on.spent, budget=held_on.budget, warn=warn)

    async def held(self, account: str) -> int:
        found = self._accounts.get(account)
        return sum(amount for amount, _ in found.holds.values()) if found is not None else 0

    async def release(self, reservation: str, account: str | None = None) -> None:
        self._drop(reservation)
