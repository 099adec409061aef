"""Trying a route's targets in order until one serves.

Generic over what "serving" means: speech passes a function that opens a stream
(and so commits only once the first audio byte is in hand), transcription one
that returns a transcript. Every attempt is recorded so the final error, the
headers and the log can say what happened.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import msgspec

from ..catalog.model import Target
from ..errors import UpstreamClientError, UpstreamUnavailable
from ..providers.base import UpstreamFailure
from .breaker import Breaker, Breakers
from .policy import counts_against_provider, falls_back

__all__ = ["Attempt", "Served", "serve_first", "Unsuitable"]

T = TypeVar("T")


class Attempt(msgspec.Struct, frozen=True):
    provider: str
    model: str
    # ok | not_configured | circuit_open | unsupported | timeout | connect | status | malformed | busy | deadline
    outcome: str
    reason: str = ""
    status: int | None = None

    @property
    def reached_provider(self) -> bool:
        """False for targets skipped without a call (no key, circuit open, cannot honour the request)."""
        return self.outcome not in ("not_configured", "circuit_open", "unsupported")


class Unsuitable(Exception):
    """Raised by a caller's `prepare` when a target cannot honour the request (e.g. a format)."""


class Served(msgspec.Struct, Generic[T], frozen=True):
    value: T
    target: Target
    attempts: tuple[Attempt, ...]


def _exhausted(attempts: list[Attempt], breakers: Breakers, deadline: float | None) -> UpstreamUnavailable:
    """502 in general; 503 when nothing could be tried (no key, circuit open); 504 when everything timed out
    or the request deadline passed; 429 when every provider tried was at its connection limit."""
    tried = [a for a in attempts if a.reached_provider]
    listing = [msgspec.structs.asdict(a) for a in attempts]
    summary = "; ".join(f"{a.model} via {a.provider}: {a.reason}" for a in attempts)
    if any(a.outcome == "deadline" for a in attempts):
        return UpstreamUnavailable(504, f"No provider answered within the request deadline of {deadline:g} s "
                                        f"({summary}).", code="deadline_exceeded", attempts=listing)
    if not tried:
        open_for = [breakers[a.provider].retry_in() for a in attempts if a.outcome == "circuit_open"]
        headers = {"retry-after": str(max(1, math.ceil(min(open_for))))} if open_for else None
        return UpstreamUnavailable(503, f"No provider is available for this request ({summary}).",
                                   code="no_provider_available", attempts=listing, headers=headers)
    if all(a.outcome == "busy" for a in tried):
        return UpstreamUnavailable(429, f"Every provider is at its connection limit; retry shortly ({summary}).",
                                   code="upstream_capacity_exhausted", attempts=listing, headers={"retry-after": "1"})
    if all(a.outcome == "timeout" for a in tried):
        return UpstreamUnavailable(504, f"Every provider timed out ({summary}).", code="upstream_timeout", attempts=listing)
    return UpstreamUnavailable(502, f"Every provider failed ({summary}).", code="upstream_failed", attempts=listing)


def _record(breaker: Breaker, failure: UpstreamFailure) -> None:
    if counts_against_provider(failure):
        breaker.failed(failure.describe(), failure.retry_after if failure.status == 429 else None)
    elif failure.kind == "status":
        breaker.succeeded()  # it answered: the refusal was about the input, the provider is up
    else:
        breaker.released()


async def serve_first(targets: tuple[Target, ...], attempt: Callable[[Target], Awaitable[T]], *,
                      breakers: Breakers, deadline: float | None = None) -> Served[T]:
    """Run `attempt` on each target in order; return the first success or raise the right error.

    Targets whose breaker is open are skipped without a call. `deadline` (seconds) bounds the whole
    chain: when it passes, the running attempt is cancelled and no further target is tried.
    """
    attempts: list[Attempt] = []
    expires = None if deadline is None else asyncio.get_running_loop().time() + deadline
    for target in targets:
        provider, model = target.provider.name, target.model.id
        if not target.provider.configured:
            attempts.append(Attempt(provider, model, "not_configured", "no API key configured"))
            continue
        breaker = breakers[provider]
        if not breaker.admit():
            attempts.append(Attempt(provider, model, "circuit_open",
                                    f"circuit open after repeated failures (next probe in {breaker.retry_in():.1f} s)"))
            continue
        cutoff = asyncio.timeout_at(expires)
        try:
            async with cutoff:
                value = await attempt(target)
        except Unsuitable as exc:
            breaker.released()
            attempts.append(Attempt(provider, model, "unsupported", str(exc)))
            continue
        except UpstreamFailure as failure:
            _record(breaker, failure)
            attempts.append(Attempt(provider, model, failure.kind, failure.describe(), failure.status))
            if not falls_back(failure):
                raise UpstreamClientError(
                    failure.status or 400, failure.message, param=failure.param, code=failure.code,
                    type_=failure.error_type,
                ) from None
            continue
        except TimeoutError:
            breaker.released()  # our deadline, not the provider's own timeout: no verdict on it
            if not cutoff.expired():
                raise
            attempts.append(Attempt(provider, model, "deadline", f"cut off by the request deadline of {deadline:g} s"))
            break
        except BaseException:
            breaker.released()
            raise
        breaker.succeeded()
        attempts.append(Attempt(provider, model, "ok"))
        return Served(value=value, target=target, attempts=tuple(attempts))
    raise _exhausted(attempts, breakers, deadline)
