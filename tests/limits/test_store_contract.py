"""One contract for every LimitStore: token buckets and budget reservations, with the clock passed in."""

from __future__ import annotations

import asyncio

import pytest

from audio_gateway.limits import Dimension, LimitStore, RateRule
from audio_gateway.limits.model import BudgetAsk

R, C, A = Dimension.REQUESTS, Dimension.CHARACTERS, Dimension.AUDIO_SECONDS
T0 = 1_800_000_000.0


def run(scenario):
    async def wrapped(url):
        store = LimitStore.from_url(url)
        try:
            return await scenario(store)
        finally:
            await store.close()
    return wrapped


def test_a_bucket_admits_its_limit_then_refuses_with_the_wait(store_url):
    async def scenario(store):
        rules = [RateRule(R, 3, 1.0)]
        verdicts = [await store.take("k", rules, T0) for _ in range(4)]
        assert [v.allowed for v in verdicts] == [True, True, True, False]
        assert [int(v.states[0].remaining) for v in verdicts] == [2, 1, 0, 0]
        refused = verdicts[-1]
        assert refused.refused == R and refused.retry_after == pytest.approx(20.0)   # 1 token at 3/min
        assert refused.states[0].reset_seconds == pytest.approx(60.0)
        assert (await store.take("k", rules, T0 + 19.9)).allowed is False
        assert (await store.take("k", rules, T0 + 20.0)).allowed is True
        assert (await store.take("other", rules, T0)).allowed is True                # keys are separate
    asyncio.run(run(scenario)(store_url))


def test_a_full_minute_refills_the_bucket_completely(store_url):
    async def scenario(store):
        rules = [RateRule(C, 100, 100.0)]
        assert (await store.take("k", rules, T0)).allowed
        assert not (await store.take("k", [RateRule(C, 100, 1.0)], T0 + 0.1)).allowed
        later = await store.take("k", [RateRule(C, 100, 0.0)], T0 + 600, charge=False)
        assert later.states[0].remaining == pytest.approx(100.0)                     # capped at the limit
    asyncio.run(run(scenario)(store_url))


def test_a_request_is_charged_to_every_bucket_or_to_none(store_url):
    async def scenario(store):
        assert (await store.take("k", [RateRule(R, 10, 1.0), RateRule(A, 60, 50.0)], T0)).allowed
        refused = await store.take("k", [RateRule(R, 10, 1.0), RateRule(A, 60, 20.0)], T0)
        assert not refused.allowed and refused.refused == A
        assert refused.retry_after == pytest.approx(10.0)
        peek = await store.take("k", [RateRule(R, 10, 0.0), RateRule(A, 60, 0.0)], T0, charge=False)
        assert [round(s.remaining, 6) for s in peek.states] == [9.0, 10.0]           # the refusal took nothing
    asyncio.run(run(scenario)(store_url))


def test_peeking_changes_nothing(store_url):
    async def scenario(store):
        for _ in range(5):
            await store.take("k", [RateRule(R, 2, 0.0)], T0, charge=False)
        assert [(await store.take("k", [RateRule(R, 2, 1.0)], T0)).allowed for _ in range(3)] == [True, True, False]
    asyncio.run(run(scenario)(store_url))


def _reserve(store, rid, *, amount=100, budget=1000, now=T0, hold=60.0, seeded=0, calls=None):
    async def seed():
        if calls is not None:
            calls.append(rid)
        return seeded
    return store.reserve("team:month:2027-01-01", rid, amount=amount, budget=budget, now=now,
                         hold_until=now + hold, expire_at=now + 86400, seed=seed)


def test_reservations_hold_the_budget_until_settled_or_released(store_url):
    async def scenario(store):
        calls: list[str] = []
        first = await _reserve(store, "r1", amount=600, seeded=100, calls=calls)
        assert first.allowed and (first.spent, first.held) == (100, 600)
        assert await store.held("team:month:2027-01-01") == 600 and await store.held("nobody:day:x") == 0
        refused = await _reserve(store, "r2", amount=301, calls=calls)
        assert not refused.allowed and (refused.spent, refused.held) == (100, 600)
        assert calls == ["r1"]                                      # the ledger is read once per account
        await store.release("r1")
        assert (await _reserve(store, "r3", amount=800)).allowed    # released: the budget is free again
        settled = await store.settle("r3", 250)
        assert settled is not None and (settled.spent, settled.budget) == (350, 1000)
        assert await store.settle("r3", 250) is None                # settling twice counts once
        assert (await _reserve(store, "r4", amount=650)).allowed
        assert not (await _reserve(store, "r5", amount=1)).allowed  # 350 spent + 650 held = 1000
    asyncio.run(run(scenario)(store_url))


def test_an_expired_hold_no_longer_counts_but_its_cost_does(store_url):
    async def scenario(store):
        assert (await _reserve(store, "slow", amount=900, hold=30.0)).allowed
        assert not (await _reserve(store, "r2", amount=200, now=T0 + 29)).allowed
        assert (await _reserve(store, "r3", amount=200, now=T0 + 31)).allowed          # the hold lapsed
        settled = await store.settle("slow", 700)                                     # late, still counted
        assert settled is not None and settled.spent == 700
        assert not (await _reserve(store, "r4", amount=101, now=T0 + 32)).allowed     # 700 + 200 held + 101
    asyncio.run(run(scenario)(store_url))


def test_holds_lapse_in_their_own_time_whichever_was_settled_first(store_url):
    """Holds of different lengths, the earliest settled before its time: each still lapses on its own."""
    async def scenario(store):
        assert (await _reserve(store, "short", amount=300, hold=30.0)).allowed
        assert (await _reserve(store, "long", amount=300, hold=120.0)).allowed
        assert (await _reserve(store, "middle", amount=300, hold=60.0)).allowed
        assert await store.settle("short", 0) is not None                              # settled early, for nothing
        assert not (await _reserve(store, "a", amount=401, now=T0 + 45)).allowed       # 600 held
        assert (await _reserve(store, "b", amount=400, now=T0 + 61, hold=300.0)).allowed  # "middle" lapsed
        assert await store.held("team:month:2027-01-01") == 700                        # "long" and "b"
        assert not (await _reserve(store, "c", amount=301, now=T0 + 119)).allowed
        assert (await _reserve(store, "d", amount=300, now=T0 + 121)).allowed          # "long" lapsed too
        assert await store.held("team:month:2027-01-01") == 700                        # "b" and "d"
    asyncio.run(run(scenario)(store_url))


def test_the_80_percent_warning_fires_once_per_account(store_url):
    async def scenario(store):
        warns = []
        for i in range(5):
            assert (await _reserve(store, f"r{i}", amount=200)).allowed
            warns.append((await store.settle(f"r{i}", 200)).warn)
        assert warns == [False, False, False, True, False]
    asyncio.run(run(scenario)(store_url))


def test_fifty_concurrent_reservations_on_a_budget_for_ten(store_url):
    """Many connections at once (Redis: a pool), one account: exactly ten fit, however they interleave."""
    async def scenario(store):
        results = await asyncio.gather(*[_reserve(store, f"c{i}", amount=100) for i in range(50)])
        assert sum(r.allowed for r in results) == 10
    asyncio.run(run(scenario)(store_url))


def test_large_amounts_stay_exact(store_url):
    """Nano-dollar counts near the 9,000,000 USD cap: Lua's %.14g would have written 1e+15 and broken HINCRBY."""
    async def scenario(store):
        big = 9_000_000 * 10**9
        assert (await _reserve(store, "b1", amount=big - 1, budget=big)).allowed
        assert (await _reserve(store, "b2", amount=1, budget=big)).allowed
        assert not (await _reserve(store, "b3", amount=1, budget=big)).allowed
        settled = await store.settle("b1", big - 1)
        assert settled is not None and settled.spent == big - 1
    asyncio.run(run(scenario)(store_url))


def _ask(rid: str, amount: int, budget: int = 1000, now: float = T0) -> BudgetAsk:
    return BudgetAsk(account="team:day:2027-01-01", reservation=rid, amount=amount, budget=budget,
                     hold_until=now + 60, expire_at=now + 86400)


def test_admit_takes_the_budget_and_the_buckets_together_or_neither(store_url):
    async def scenario(store):
        seeds: list[int] = []

        async def seed():
            seeds.append(1)
            return 100

        rules = [RateRule(R, 2, 1.0)]
        ok = await store.admit(_ask("a1", 500), "team", rules, T0, seed)
        assert ok.outcome == "ok" and ok.reserved.held == 500 and ok.rate.states[0].remaining == pytest.approx(1.0)
        over = await store.admit(_ask("a2", 401), "team", rules, T0, seed)
        assert over.outcome == "over_budget" and (over.reserved.spent, over.reserved.held) == (100, 500)
        assert (await store.admit(_ask("a3", 400), "team", rules, T0, seed)).outcome == "ok"  # no token was taken
        await store.release("a3")
        limited = await store.admit(_ask("a4", 1), "team", rules, T0, seed)
        assert limited.outcome == "rate_limited" and limited.rate.refused == R
        assert seeds == [1]
        await store.release("a1")
        # The rate-limited request held nothing: the whole budget less the seeded spend is free.
        assert (await store.admit(_ask("a5", 900), "team", [], T0, seed)).outcome == "ok"
        settled = await store.settle("a5", 900, "team:day:2027-01-01")
        assert settled is not None and settled.spent == 1000
        assert (await store.admit(None, "team", [RateRule(R, 2, 1.0)], T0 + 60, seed)).outcome == "ok"
    asyncio.run(run(scenario)(store_url))
