"""`LimitStore`: rate buckets and budget reservations behind one small ABC, picked by URL (saq's from_url).

`memory` is exact within one process; `redis` is shared by every replica and `serve --workers N`
process, each operation one atomic Lua script. Time is always the caller's (`now`, Unix seconds) so
tests inject a clock instead of sleeping through a minute.

A budget *account* is one key's budget in one period (its name and period start). Its counter of
settled spend is seeded from the ledger the first time the account is used (`seed`), and then kept
by `settle`; `reserve` admits a request only if spend + open holds + this cost fit the budget.
Holds expire (`hold_until`) so a process that died holding one cannot block a key forever.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence

from .model import Admitted, BudgetAsk, RateRule, RateVerdict, Reserved, Settled

__all__ = ["LimitStore"]


class LimitStore(ABC):
    name: str = ""
    # Whether an operation waits on I/O (and so can be cancelled half-way). The in-process store's
    # coroutines never suspend: settling on it needs no cancel shield.
    remote: bool = True

    @classmethod
    def from_url(cls, url: str | None) -> LimitStore:
        """A redis:// (or rediss://, unix://) URL: the shared store; None or "memory": this process only."""
        if url and url != "memory":
            from .redis_store import RedisLimitStore

            return RedisLimitStore(url)
        from .memory import MemoryLimitStore

        return MemoryLimitStore()

    @abstractmethod
    async def take(self, key: str, rules: Sequence[RateRule], now: float, *, charge: bool = True) -> RateVerdict:
        """Check every rule's bucket; charge all of them, or none when one lacks room (or `charge` is off)."""

    async def reserve(self, account: str, reservation: str, *, amount: int, budget: int, now: float,
                      hold_until: float, expire_at: float | None, seed: Callable[[], Awaitable[int]]) -> Reserved:
        """Hold `amount` on `account` unless that would pass `budget`; seeds the account on first use."""
        found = await self._reserve(account, reservation, amount, budget, now, hold_until, expire_at, None)
        if found is None:
            found = await self._reserve(account, reservation, amount, budget, now, hold_until, expire_at, await seed())
        assert found is not None, "a seeded account exists"
        return found

    @abstractmethod
    async def _reserve(self, account: str, reservation: str, amount: int, budget: int, now: float,
                       hold_until: float, expire_at: float | None, seed: int | None) -> Reserved | None:
        """None when the account does not exist and `seed` is None (the caller then reads the ledger)."""

    async def admit(self, budget: BudgetAsk | None, key: str, rules: Sequence[RateRule], now: float,
                    seed: Callable[[], Awaitable[int]]) -> Admitted:
        """The budget first (a refusal takes nothing from the buckets), then the buckets (a refusal holds
        nothing). This composition is atomic in one event loop; redis.py does it in one script."""
        reserved = None
        if budget is not None:
            reserved = await self.reserve(budget.account, budget.reservation, amount=budget.amount, budget=budget.budget,
                                          now=now, hold_until=budget.hold_until, expire_at=budget.expire_at, seed=seed)
            if not reserved.allowed:
                return Admitted("over_budget", reserved)
        verdict = await self.take(key, rules, now) if rules else None
        if verdict is not None and not verdict.allowed:
            if budget is not None:
                await self.release(budget.reservation)
            return Admitted("rate_limited", reserved, verdict)
        return Admitted("ok", reserved, verdict)

    @abstractmethod
    async def settle(self, reservation: str, cost: int, account: str | None = None) -> Settled | None:
        """Drop the hold and add the real cost to the spend. Idempotent: a second call finds nothing (None).
        `account`, when the caller knows it, saves looking it up."""

    @abstractmethod
    async def release(self, reservation: str, account: str | None = None) -> None:
        """Drop the hold, spending nothing (the request failed, or never reached a provider)."""

    @abstractmethod
    async def held(self, account: str) -> int:
        """Nano-dollars open reservations hold on `account` now (holds past their expiry included until the
        next reservation prunes them): what an operator, or a test looking for leaks, reads."""

    async def close(self) -> None:
        return None
