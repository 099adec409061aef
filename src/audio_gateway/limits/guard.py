"""`Limiter`: what a request of a limited key goes through before the upstream call, and after it.

Budget and rates in one store operation (in Redis one script, one round trip): a request refused for
its budget takes nothing from the buckets, and one refused by a bucket holds nothing. The reservation is this request's cost as
far as it is known in advance (billing.expected_usage; output tokens at the catalog's estimate); it
is settled with the ledger row's exact cost, or released when the request ends without one.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

import msgspec

from ..billing import decimal_text
from ..errors import QuotaExceeded, RateLimited
from ..keys.model import KeyLimits, Period
from ..keys.periods import period_bounds
from .cost import Reserver
from .headers import duration_text
from .memo import ByIdentity
from .model import BudgetAsk, Dimension, RateRule, RateState, from_nano, to_nano
from .store import LimitStore

__all__ = ["Limiter", "Admission"]

log = logging.getLogger("audio_gateway.limits")

_LABEL = {Dimension.REQUESTS: "requests per minute (RPM)", Dimension.CHARACTERS: "characters per minute",
          Dimension.AUDIO_SECONDS: "audio seconds per minute"}
_TYPE = {Dimension.REQUESTS: "requests", Dimension.CHARACTERS: "characters", Dimension.AUDIO_SECONDS: "audio_seconds"}


class Admission(msgspec.Struct, frozen=True):
    reservation: str | None             # the hold to settle or release; None when the key has no budget
    states: tuple[RateState, ...] = ()  # bucket levels after this request, for the x-ratelimit headers
    account: str | None = None          # the budget account it is held on (settling then needs no look-up)


class _Window(msgspec.Struct, frozen=True):
    """One budget period: its bounds, the account-name suffix, and when its account may be forgotten."""

    start: datetime
    end: datetime | None
    start_ts: float
    end_ts: float
    label: str                    # "<period>:<start date>", what follows the key's name in the account's
    forget_at: float | None       # a day after the end; None for a total budget

    @classmethod
    def of(cls, period: Period, now: datetime) -> _Window:
        start, end = period_bounds(period, now)
        return cls(start, end, start.timestamp(), end.timestamp() if end is not None else math.inf,
                   label=f"{period}:{start.date().isoformat()}",
                   forget_at=(end + timedelta(days=1)).timestamp() if end is not None else None)


def _buckets(limits: KeyLimits) -> tuple[tuple[Dimension, int], ...]:
    return tuple((dimension, per_minute) for dimension, per_minute in (
        (Dimension.REQUESTS, limits.rpm), (Dimension.CHARACTERS, limits.characters_per_minute),
        (Dimension.AUDIO_SECONDS, limits.audio_seconds_per_minute)) if per_minute is not None)


class _KeyPlan:
    """What admitting a request of one key's limits needs that does not change from request to request:
    its buckets and its budget in nano-dollars, worked out once per limits object (`Limiter._plan`)."""

    __slots__ = ("buckets", "budget_nano", "period")

    def __init__(self, limits: KeyLimits):
        self.buckets = _buckets(limits)
        self.budget_nano = to_nano(limits.budget_usd) if limits.budget_usd is not None else None
        self.period: Period = limits.budget_period or "month"

    def rules(self, units: Mapping[Dimension, float]) -> list[RateRule]:
        """The key's buckets, each with what this request takes from it (nothing from a bucket it does not use)."""
        return [RateRule(dimension, per_minute, float(units.get(dimension, 0.0))) for dimension, per_minute in self.buckets]


class Limiter:
    def __init__(self, store: LimitStore, spend_since: Callable[[str, datetime], Awaitable[Decimal]], *,
                 clock: Callable[[], datetime], on_warning: Callable[[str, str], None] | None = None,
                 hold_seconds: float = 900.0):
        self.store = store
        self._spend_since = spend_since
        self._clock = clock
        self._on_warning = on_warning
        self._hold = hold_seconds
        self._windows: dict[Period, _Window] = {}
        # The key cache hands every request of a key the same limits object until the key changes.
        self._plan: ByIdentity[KeyLimits, _KeyPlan] = ByIdentity(_KeyPlan)
        self.reserver = Reserver()   # what a budgeted request reserves (limits/cost.py)
        # Reservation ids: this process's random prefix and a counter, unique across replicas sharing Redis
        # without a system call per request.
        self._reservation_prefix = f"res_{os.urandom(8).hex()}_"
        self._reservations = itertools.count()

    def new_reservation(self) -> str:
        return f"{self._reservation_prefix}{next(self._reservations)}"

    async def admit(self, name: str, limits: KeyLimits, *, reservation: str, cost_usd: Decimal | None,
                    units: Mapping[Dimension, float], hold_seconds: float | None = None) -> Admission:
        """Reserve `cost_usd` on the budget and take `units` from the buckets (one store operation: both or
        neither), or raise the 429 that says why."""
        plan = self._plan(limits)
        now = self._clock()
        now_ts = now.timestamp()
        rules = plan.rules(units)
        for rule in rules:
            if rule.cost > rule.per_minute:
                raise RateLimited(f"Request too large for key {name} on {_LABEL[rule.dimension]}: Limit "
                                  f"{rule.per_minute}, Requested {rule.cost:g}. Send less per request.",
                                  type_=_TYPE[rule.dimension], retry_after=60.0)
        budget = None
        period = plan.period
        window = self._window(period, now, now_ts)
        start, end = window.start, window.end
        if plan.budget_nano is not None and cost_usd is not None:
            # At least one nano-dollar: a spent budget refuses even a request whose cost is not known yet.
            budget = BudgetAsk(account=f"{name}:{window.label}", reservation=reservation,
                               amount=max(to_nano(cost_usd), 1), budget=plan.budget_nano,
                               hold_until=now_ts + (hold_seconds or self._hold), expire_at=window.forget_at)
        if budget is None and not rules:
            return Admission(None)

        async def seed() -> int:
            return to_nano(await self._spend_since(name, start))

        admitted = await self.store.admit(budget, name, rules, now_ts, seed)
        if admitted.outcome == "over_budget":
            assert admitted.reserved is not None and limits.budget_usd is not None and cost_usd is not None
            resets = (f"it resets at {end.isoformat().replace('+00:00', 'Z')}" if end is not None
                      else "it is a total budget and does not reset")
            raise QuotaExceeded(
                f"You exceeded your current quota: key {name} has a budget of ${decimal_text(limits.budget_usd)} "
                f"per {period if end is not None else 'lifetime'}, ${decimal_text(from_nano(admitted.reserved.spent))} "
                f"is spent and ${decimal_text(from_nano(admitted.reserved.held))} held by requests in flight, and "
                f"this request needs up to ${decimal_text(cost_usd)}; {resets}.")
        verdict = admitted.rate
        if verdict is not None and not verdict.allowed:
            assert verdict.refused is not None
            state = next(s for s in verdict.states if s.dimension == verdict.refused)
            cost = next(r.cost for r in rules if r.dimension == verdict.refused)
            error = RateLimited(
                f"Rate limit reached for key {name} on {_LABEL[verdict.refused]}: Limit {state.limit}, Remaining "
                f"{int(state.remaining)}, Requested {cost:g}. Please try again in {duration_text(verdict.retry_after)}.",
                type_=_TYPE[verdict.refused], retry_after=verdict.retry_after)
            error.states = verdict.states
            raise error
        return Admission(reservation if budget is not None else None, verdict.states if verdict else (),
                         budget.account if budget is not None else None)

    def _window(self, period: Period, now: datetime, now_ts: float) -> _Window:
        """The budget period `now` is in, remembered until it ends (most requests share it)."""
        window = self._windows.get(period)
        if window is None or not window.start_ts <= now_ts < window.end_ts:
            window = self._windows[period] = _Window.of(period, now)
        return window

    async def peek(self, name: str, limits: KeyLimits) -> tuple[RateState, ...]:
        rules = self._plan(limits).rules({})
        if not rules:
            return ()
        return (await self.store.take(name, rules, self._clock().timestamp(), charge=False)).states

    async def settle(self, reservation: str, cost_usd: Decimal, account: str | None = None) -> None:
        """The real cost replaces the hold (from the request's middleware, or a job worker when the job ends)."""
        settled = await self.store.settle(reservation, to_nano(cost_usd), account)
        if settled is not None and settled.warn:
            name, period, _ = settled.account.rsplit(":", 2)
            log.warning("key %s has spent %s%% of its %s budget ($%s of $%s)", name,
                        round(settled.spent * 100 / settled.budget), period, decimal_text(from_nano(settled.spent)),
                        decimal_text(from_nano(settled.budget)))
            if self._on_warning is not None:
                self._on_warning(name, period)

    async def release(self, reservation: str, account: str | None = None) -> None:
        await self.store.release(reservation, account)
