"""The shared limit store: every replica and `serve --workers N` process enforces one limit through Redis.

Each operation is one Lua script, which Redis runs atomically: concurrent requests on any number of
gateways are admitted one after the other against the same counters. Numbers cross into Lua as
decimal strings and leave it via string.format("%d"), never as Lua's %.14g (which writes 1e+15).

Keys (prefix `ag:lim:`): `rate:<key>:<dimension>` a bucket (tokens, ts) forgotten after two idle
minutes; `budget:<account>` the account (spent, budget, held, warned, r:<id> per hold) and
`holds:<account>` the holds by expiry, both expiring a day after the period ends; `resv:<id>` which
account a reservation is on, so a job worker can settle what the API process reserved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import cast

import redis.asyncio as aioredis

from .model import Admitted, BudgetAsk, Dimension, RateRule, RateState, RateVerdict, Reserved, Settled
from .store import LimitStore

__all__ = ["RedisLimitStore"]

PREFIX = "ag:lim:"
_POINTER_SECONDS = 2 * 86400   # a reservation older than any hold is settled (if ever) by then

# Lua shared by the scripts below (each script is this text plus its own body, so each stays one atomic call).
_SHARED = """
local function level(key, cap, now)
  local saved = redis.call('HMGET', key, 't', 'ts')
  local t, ts = tonumber(saved[1]), tonumber(saved[2])
  if t == nil then return cap end
  if now > ts then return math.min(cap, t + (now - ts) * cap / 60) end
  return t
end
-- n buckets KEYS[base + i], cap ARGV[argv + 2i], cost ARGV[argv + 1 + 2i]: their levels, and the refusal
-- with the longest wait (0 when every bucket holds its cost).
local function levels(base, argv, n, now)
  local tokens, retry, refused = {}, 0, 0
  for i = 1, n do
    local cap, cost = tonumber(ARGV[argv + 2 * i]), tonumber(ARGV[argv + 1 + 2 * i])
    local t = level(KEYS[base + i], cap, now)
    tokens[i] = t
    if cost > t + 1e-9 then
      local wait = (cost - t) * 60 / cap
      if refused == 0 or wait > retry then retry = math.max(retry, wait); refused = i end
    end
  end
  return tokens, retry, refused
end
local function store_level(key, t, now_text)
  redis.call('HSET', key, 't', string.format('%.17g', t), 'ts', now_text)
  redis.call('EXPIRE', key, 120)
end
-- Holds whose expiry has passed give their amount back to the account.
local function release_expired(acct, holds, now_text)
  for _, rid in ipairs(redis.call('ZRANGEBYSCORE', holds, '-inf', now_text)) do
    local a = redis.call('HGET', acct, 'r:' .. rid)
    if a then
      redis.call('HINCRBY', acct, 'held', string.format('%d', -tonumber(a)))
      redis.call('HDEL', acct, 'r:' .. rid)
    end
    redis.call('ZREM', holds, rid)
  end
end
-- Hold `amount` under `id` until `hold_until`, pointing `ptr` at the account; returns the account's held total.
local function place_hold(acct, holds, ptr, id, amount, hold_until, expire_at, ptr_ttl)
  redis.call('HSET', acct, 'r:' .. id, amount)
  local held = redis.call('HINCRBY', acct, 'held', amount)
  redis.call('ZADD', holds, hold_until, id)
  redis.call('SET', ptr, acct, 'EX', ptr_ttl)
  if expire_at ~= '' then
    redis.call('EXPIREAT', acct, expire_at)
    redis.call('EXPIREAT', holds, expire_at)
  end
  return held
end
"""

_TAKE = _SHARED + """
local now = tonumber(ARGV[1])
local charge = ARGV[2] == '1'
local n = #KEYS
local tokens, retry, refused = levels(0, 1, n, now)
local out = {refused == 0 and 1 or 0, string.format('%.17g', retry), refused}
for i = 1, n do
  local cost = tonumber(ARGV[2 + 2 * i])
  if refused == 0 and charge then tokens[i] = tokens[i] - cost end
  if charge then store_level(KEYS[i], tokens[i], ARGV[1]) end
  out[#out + 1] = string.format('%.17g', tokens[i])
end
return out
"""

_RESERVE = _SHARED + """
local acct, holds, ptr = KEYS[1], KEYS[2], KEYS[3]
local id, amount, budget, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('EXISTS', acct) == 0 then
  if ARGV[7] == '' then return {-1, 0, 0} end
  redis.call('HSET', acct, 'spent', ARGV[7], 'held', '0')
end
release_expired(acct, holds, ARGV[4])
local spent = tonumber(redis.call('HGET', acct, 'spent'))
local held = tonumber(redis.call('HGET', acct, 'held'))
redis.call('HSET', acct, 'budget', ARGV[3])
if spent + held + amount > budget then return {0, spent, held} end
held = place_hold(acct, holds, ptr, id, ARGV[2], ARGV[5], ARGV[6], ARGV[8])
return {1, spent, held}
"""

_SETTLE = """
local acct, holds, ptr = KEYS[1], KEYS[2], KEYS[3]
if redis.call('GET', ptr) ~= acct then return {-1, 0, 0, 0} end
redis.call('DEL', ptr)
local a = redis.call('HGET', acct, 'r:' .. ARGV[1])
if a then
  redis.call('HINCRBY', acct, 'held', string.format('%d', -tonumber(a)))
  redis.call('HDEL', acct, 'r:' .. ARGV[1])
  redis.call('ZREM', holds, ARGV[1])
end
if redis.call('EXISTS', acct) == 0 then return {-1, 0, 0, 0} end
local spent = redis.call('HINCRBY', acct, 'spent', ARGV[2])
local budget = tonumber(redis.call('HGET', acct, 'budget') or '0')
local warn = 0
if budget > 0 and spent * 5 >= budget * 4 and redis.call('HSETNX', acct, 'warned', '1') == 1 then warn = 1 end
return {1, spent, budget, warn}
"""


# The budget and the buckets in one round trip (the hot path): KEYS acct, holds, ptr, then one per bucket;
# ARGV now, budgeted, id, amount, budget, hold_until, expire_at, seed, ptr_ttl, then per bucket cap, cost.
# Returns {-1} (seed needed), {0, spent, held} over budget, {2, spent, held, retry, refused, tokens...}
# rate limited, {1, spent, held, '0', 0, tokens...} admitted (budget held, buckets charged).
_ADMIT = _SHARED + """
local now = tonumber(ARGV[1])
local budgeted = ARGV[2] == '1'
local acct, holds, ptr = KEYS[1], KEYS[2], KEYS[3]
local spent, held, amount = 0, 0, tonumber(ARGV[4])
if budgeted then
  if redis.call('EXISTS', acct) == 0 then
    if ARGV[8] == '' then return {-1} end
    redis.call('HSET', acct, 'spent', ARGV[8], 'held', '0')
  end
  release_expired(acct, holds, ARGV[1])
  spent = tonumber(redis.call('HGET', acct, 'spent'))
  held = tonumber(redis.call('HGET', acct, 'held'))
  redis.call('HSET', acct, 'budget', ARGV[5])
  if spent + held + amount > tonumber(ARGV[5]) then return {0, spent, held} end
end
local n = #KEYS - 3
local tokens, retry, refused = levels(3, 8, n, now)
local out = {refused == 0 and 1 or 2, spent, held, string.format('%.17g', retry), refused}
if refused == 0 then
  if budgeted then
    out[3] = place_hold(acct, holds, ptr, ARGV[3], ARGV[4], ARGV[6], ARGV[7], ARGV[9])
  end
  for i = 1, n do
    tokens[i] = tokens[i] - tonumber(ARGV[9 + 2 * i])
    store_level(KEYS[3 + i], tokens[i], ARGV[1])
  end
end
for i = 1, n do out[#out + 1] = string.format('%.17g', tokens[i]) end
return out
"""


class RedisLimitStore(LimitStore):
    name = "redis"

    def __init__(self, url: str):
        self._redis = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._take = self._redis.register_script(_TAKE)
        self._reserve_script = self._redis.register_script(_RESERVE)
        self._settle = self._redis.register_script(_SETTLE)
        self._admit = self._redis.register_script(_ADMIT)

    async def take(self, key: str, rules: Sequence[RateRule], now: float, *, charge: bool = True) -> RateVerdict:
        args: list[str] = [repr(now), "1" if charge else "0"]
        for rule in rules:
            args += [str(rule.per_minute), repr(float(rule.cost))]
        out = await self._take(keys=[f"{PREFIX}rate:{key}:{rule.dimension}" for rule in rules], args=args)
        states = self._states(rules, [float(t) for t in out[3:]])
        refused: Dimension | None = rules[int(out[2]) - 1].dimension if int(out[2]) else None
        return RateVerdict(allowed=bool(int(out[0])), states=states, retry_after=float(out[1]), refused=refused)

    @staticmethod
    def _states(rules: Sequence[RateRule], tokens: list[float]) -> tuple[RateState, ...]:
        return tuple(RateState(r.dimension, r.per_minute, max(t, 0.0), (r.per_minute - t) * 60.0 / r.per_minute)
                     for t, r in zip(tokens, rules, strict=True))

    async def admit(self, budget: BudgetAsk | None, key: str, rules: Sequence[RateRule], now: float,
                    seed: Callable[[], Awaitable[int]]) -> Admitted:
        out = await self._admit_once(budget, key, rules, now, None)
        if out is None:
            out = await self._admit_once(budget, key, rules, now, await seed())
        assert out is not None, "a seeded account exists"
        return out

    async def _admit_once(self, budget: BudgetAsk | None, key: str, rules: Sequence[RateRule], now: float,
                          seed: int | None) -> Admitted | None:
        keys = self._keys(budget.account, budget.reservation) if budget is not None else [PREFIX + "none"] * 3
        keys += [f"{PREFIX}rate:{key}:{rule.dimension}" for rule in rules]
        args = [repr(now), "1" if budget is not None else "0"]
        if budget is not None:
            args += [budget.reservation, str(budget.amount), str(budget.budget), repr(budget.hold_until),
                     str(int(budget.expire_at)) if budget.expire_at is not None else "",
                     str(seed) if seed is not None else "", str(_POINTER_SECONDS)]
        else:
            args += ["", "0", "0", "0", "", "", "0"]
        for rule in rules:
            args += [str(rule.per_minute), repr(float(rule.cost))]
        out = await self._admit(keys=keys, args=args)
        code = int(out[0])
        if code == -1:
            return None
        reserved = (Reserved(allowed=code != 0, spent=int(out[1]), held=int(out[2]))
                    if budget is not None else None)
        if code == 0:
            return Admitted("over_budget", reserved)
        if not rules:
            return Admitted("ok", reserved)
        refused = int(out[4])
        verdict = RateVerdict(allowed=code == 1, states=self._states(rules, [float(t) for t in out[5:]]),
                              retry_after=float(out[3]), refused=rules[refused - 1].dimension if refused else None)
        return Admitted("ok" if code == 1 else "rate_limited", reserved if code == 1 else
                        Reserved(allowed=False, spent=int(out[1]), held=int(out[2])) if budget else None, verdict)

    @staticmethod
    def _keys(account: str, reservation: str) -> list[str]:
        return [f"{PREFIX}budget:{account}", f"{PREFIX}holds:{account}", f"{PREFIX}resv:{reservation}"]

    async def _reserve(self, account: str, reservation: str, amount: int, budget: int, now: float,
                       hold_until: float, expire_at: float | None, seed: int | None) -> Reserved | None:
        out = await self._reserve_script(keys=self._keys(account, reservation), args=[
            reservation, str(amount), str(budget), repr(now), repr(hold_until),
            str(int(expire_at)) if expire_at is not None else "", str(seed) if seed is not None else "",
            str(_POINTER_SECONDS)])
        if int(out[0]) == -1:
            return None
        return Reserved(allowed=bool(int(out[0])), spent=int(out[1]), held=int(out[2]))

    async def _account_of(self, reservation: str) -> str | None:
        found = await self._redis.get(f"{PREFIX}resv:{reservation}")
        if found is None:
            return None
        return found.decode()[len(PREFIX) + len("budget:"):]

    async def settle(self, reservation: str, cost: int, account: str | None = None) -> Settled | None:
        account = account or await self._account_of(reservation)
        if account is None:
            return None
        out = await self._settle(keys=self._keys(account, reservation), args=[reservation, str(cost)])
        if int(out[0]) == -1:
            return None
        return Settled(account=account, spent=int(out[1]), budget=int(out[2]), warn=bool(int(out[3])))

    async def release(self, reservation: str, account: str | None = None) -> None:
        account = account or await self._account_of(reservation)
        if account is not None:
            await self._settle(keys=self._keys(account, reservation), args=[reservation, "0"])

    async def held(self, account: str) -> int:
        # redis-py types hash commands for its sync and async clients at once; this client is the async one.
        found = await cast(Awaitable[bytes | None], self._redis.hget(f"{PREFIX}budget:{account}", "held"))
        return int(found or 0)

    async def close(self) -> None:
        await self._redis.aclose()
