"""The in-process limit store: exact for one process (one event loop, no await inside an operation).

Each account keeps the sum of its open holds beside them, and the earliest time one of them may
lapse, so a reservation is O(1): the holds are swept only once that time has passed (a sweep also
finds that the earliest hold was settled already, and moves the time on).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .bucket import take
from .model import Dimension, RateRule, RateVerdict, Reserved, Settled
from .store import LimitStore

__all__ = ["MemoryLimitStore"]


class _Account:
    __slots__ = ("spent", "budget", "holds", "held", "lapse_at", "warned")

    def __init__(self, spent: int):
        self.spent = spent
        self.budget = 0
        self.holds: dict[str, tuple[int, float]] = {}
        self.held = 0                    # the sum of `holds`' amounts
        self.lapse_at = math.inf         # no hold lapses before this (it may have been settled already)
        self.warned = False

    def hold(self, reservation: str, amount: int, until: float) -> None:
        self.holds[reservation] = (amount, until)
        self.held += amount
        self.lapse_at = min(self.lapse_at, until)

    def drop(self, reservation: str) -> None:
        found = self.holds.pop(reservation, None)
        if found is not None:
            self.held -= found[0]

    def sweep(self, now: float) -> None:
        """Forget holds past their time (their reservations may still settle: the cost then counts)."""
        if now < self.lapse_at:
            return
        for reservation, (amount, until) in list(self.holds.items()):
            if until <= now:
                del self.holds[reservation]
                self.held -= amount
        self.lapse_at = min((until for _, until in self.holds.values()), default=math.inf)


class MemoryLimitStore(LimitStore):
    name = "memory"
    remote = False

    def __init__(self) -> None:
        self._buckets: dict[str, dict[Dimension, tuple[float, float]]] = {}   # a key's buckets, by dimension
        self._accounts: dict[str, _Account] = {}
        self._reservations: dict[str, str] = {}

    async def take(self, key: str, rules: Sequence[RateRule], now: float, *, charge: bool = True) -> RateVerdict:
        held = self._buckets.get(key)
        verdict, levels = take([held.get(rule.dimension) for rule in rules] if held else [None] * len(rules),
                               rules, now, charge=charge)
        if charge:
            if held is None:
                held = self._buckets[key] = {}
            for rule, level in zip(rules, levels, strict=True):
                held[rule.dimension] = level
        return verdict

    async def _reserve(self, account: str, reservation: str, amount: int, budget: int, now: float,
                       hold_until: float, expire_at: float | None, seed: int | None) -> Reserved | None:
        found = self._accounts.get(account)
        if found is None:
            if seed is None:
                return None
            found = self._accounts[account] = _Account(seed)
        found.sweep(now)
        found.budget = budget
        if found.spent + found.held + amount > budget:
            return Reserved(allowed=False, spent=found.spent, held=found.held)
        found.hold(reservation, amount, hold_until)
        self._reservations[reservation] = account
        return Reserved(allowed=True, spent=found.spent, held=found.held)

    def _drop(self, reservation: str) -> tuple[str, _Account] | None:
        name = self._reservations.pop(reservation, None)
        account = self._accounts.get(name) if name is not None else None
        if name is None or account is None:
            return None
        account.drop(reservation)
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
        return found.held if found is not None else 0

    async def release(self, reservation: str, account: str | None = None) -> None:
        self._drop(reservation)
