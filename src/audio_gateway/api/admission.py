"""A limited key's request: allowed models, the budget reservation and the buckets, then settling.

Handlers call `check_model` once the model is resolved and `admit` when the cost is known (speech:
the text; transcription: the probed upload), before any provider is called. `limited_call` wraps the
whole request (from api/auth.py): every response start gets the `x-ratelimit-*` headers, and when the
request is over, however it ended, the reservation is settled with the ledger row's cost
(`record_row` leaves it in `state["settle_usd"]`) or released when no row was written: a bad
input, a refusal, a client gone before anything was served. Nothing is left held.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import anyio
from litestar import Request

from ..billing import RequestFacts
from ..catalog import Route, Target
from ..errors import PermissionDenied, RateLimited, ServiceUnavailable
from ..limits.guard import Admission, Limiter
from ..limits.headers import rate_headers
from ..limits.model import Dimension
from ..settings import ClientKey

__all__ = ["check_model", "admit", "keep_reservation", "limited_call", "LIMIT_OUTAGES"]

log = logging.getLogger("audio_gateway.limits")


def _outages() -> tuple[type[BaseException], ...]:
    import redis.exceptions

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


LIMIT_OUTAGES = _outages()


def client_key(request: Request) -> ClientKey | None:
    """The key api/auth.py authenticated (read from the scope here: auth imports this module)."""
    return request.scope.get("state", {}).get("client_key")


def check_model(request: Request, route: Route) -> None:
    """403 `model_not_allowed` for a model outside the key's allow-list."""
    _check_model(client_key(request), route)


def _check_model(key: ClientKey | None, route: Route) -> None:
    if key is None or key.limits is None or key.limits.allows(route.model.id):
        return
    allowed = ", ".join(key.limits.models or ())
    raise PermissionDenied(f"The key {key.name} may not use the model `{route.model.id}`; it may use: {allowed}.",
                           param="model", code="model_not_allowed")


async def admit(request: Request, route: Route, *, facts_for: Callable[[Target], RequestFacts],
                units: Mapping[Dimension, float], reservation: str | None = None,
                hold_seconds: float | None = None) -> None:
    """Reserve and take from the buckets, or raise the 403/429 (503 when the limit store is down).
    A job passes its id as `reservation` (its worker settles it) and a hold as long as the job may run.

    The limiter is in the scope only for a key with a budget or a rate limit (`limited_call` put it
    there); every other key needs just the model check."""
    state = request.scope["state"]
    key = client_key(request)
    if key is None or key.limits is None:
        return
    limits = key.limits
    _check_model(key, route)
    limiter: Limiter | None = state.get("limiter")
    if limiter is None:
        return
    cost = limiter.reserver.usd(route, facts_for) if limits.budget_usd is not None else None
    try:
        state["admission"] = await limiter.admit(
            key.name, limits, reservation=reservation or limiter.new_reservation(), cost_usd=cost,
            units={Dimension.REQUESTS: 1.0, **units}, hold_seconds=hold_seconds)
    except RateLimited as exc:
        state["rate_states"] = exc.states
        raise
    except LIMIT_OUTAGES as exc:
        log.warning("limit store unreachable (%s): refusing %s's request", type(exc).__name__, key.name)
        raise ServiceUnavailable("The gateway cannot check this key's limits right now. Retry shortly.",
                                 code="limits_unavailable", headers={"retry-after": "2"}) from None


def keep_reservation(request: Request) -> None:
    """The reservation outlives this request: a job was queued with it, and its worker settles it."""
    request.scope["state"]["reservation_kept"] = True


async def _finish(limiter: Limiter, key: ClientKey, state: dict[str, Any]) -> None:
    admission: Admission | None = state.get("admission")
    if admission is None or admission.reservation is None or state.get("reservation_kept"):
        return
    if not limiter.store.remote:  # never suspends, so nothing can cancel it half-way (a shield costs 5 us)
        await _settle(limiter, key, admission, state.get("settle_usd"))
        return
    with anyio.CancelScope(shield=True):   # a client gone mid-stream must not leave the hold behind
        await _settle(limiter, key, admission, state.get("settle_usd"))


async def _settle(limiter: Limiter, key: ClientKey, admission: Admission, cost: Decimal | None) -> None:
    assert admission.reservation is not None
    try:
        if cost is None:
            await limiter.release(admission.reservation, admission.account)
        else:
            await limiter.settle(admission.reservation, cost, admission.account)
    except LIMIT_OUTAGES as exc:
        log.warning("could not settle reservation %s of key %s (%s); it expires on its own",
                    admission.reservation, key.name, type(exc).__name__)


async def limited_call(app: Any, scope: dict, receive: Any, send: Any, limiter: Limiter, key: ClientKey) -> None:
    state = scope["state"]
    state["limiter"] = limiter
    limits = key.limits
    assert limits is not None
    rate_limited = limits.rate_limited

    async def send_with_limits(message: dict) -> None:
        if rate_limited and message["type"] == "http.response.start":
            admission: Admission | None = state.get("admission")
            states = admission.states if admission is not None else state.get("rate_states")
            if not states:
                try:
                    states = await limiter.peek(key.name, limits)
                except LIMIT_OUTAGES:
                    states = ()
            message = {**message, "headers": [*message.get("headers", []), *rate_headers(states)]}
        await send(message)

    try:
        await app(scope, receive, send_with_limits)
    finally:
        await _finish(limiter, key, state)
