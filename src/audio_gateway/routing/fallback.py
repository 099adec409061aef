"""Trying a route's targets in order until one serves.

Generic over what "serving" means: speech passes a function that opens a stream
(and so commits only once the first audio byte is in hand), transcription one
that returns a transcript. Every attempt is recorded so the final error, the
headers and the log can say what happened, and an optional `AttemptObserver`
is told about each one as it happens (metrics and traces, which routing knows
nothing of).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

import msgspec

from ..catalog.model import Target
from ..errors import UpstreamClientError, UpstreamUnavailable
from ..providers.failures import FailureKind, UpstreamFailure
from .breaker import Breaker, Breakers
from .policy import counts_against_provider, falls_back

__all__ = ["Attempt", "AttemptEnd", "AttemptObserver", "Outcome", "Served", "serve_first", "Unsuitable"]

T = TypeVar("T")


class Outcome(StrEnum):
    """What became of one target. The failure kinds of `UpstreamFailure`, plus skips, deadline and success."""

    OK = "ok"
    NOT_CONFIGURED = "not_configured"   # skipped: no key, engine missing
    CIRCUIT_OPEN = "circuit_open"       # skipped: its breaker is open
    UNSUPPORTED = "unsupported"         # skipped: cannot honour this request
    TIMEOUT = "timeout"
    CONNECT = "connect"
    STATUS = "status"
    MALFORMED = "malformed"
    BUSY = "busy"
    DEADLINE = "deadline"               # the request's own deadline cut it off

    @classmethod
    def of(cls, kind: FailureKind) -> Outcome:
        return cls(str(kind))


_SKIPPED = frozenset({Outcome.NOT_CONFIGURED, Outcome.CIRCUIT_OPEN, Outcome.UNSUPPORTED})


class Attempt(msgspec.Struct, frozen=True):
    provider: str
    model: str
    outcome: Outcome
    reason: str = ""
    status: int | None = None

    @property
    def reached_provider(self) -> bool:
        """False for targets skipped without a call (no key, circuit open, cannot honour the request)."""
        return self.outcome not in _SKIPPED


AttemptEnd = Callable[[Attempt | None], None]
"""Told what became of a target: its `Attempt`, or None when the call was abandoned (the caller went away)."""


class AttemptObserver(Protocol):
    """Watches routing without routing knowing what for. `begin` is called before a target is tried or
    skipped, in the task that then makes the call (a tracer may make its span current for it); the
    function it returns is called exactly once, in the same task, when the target's fate is known."""

    def begin(self, target: Target, primary: Target) -> AttemptEnd: ...


def _ignore(attempt: Attempt | None) -> None:
    return None


def _note(attempts: list[Attempt], end: AttemptEnd, attempt: Attempt) -> None:
    attempts.append(attempt)
    end(attempt)


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
    every = tuple(attempts)
    summary = "; ".join(f"{a.model} via {a.provider}: {a.reason}" for a in attempts)
    if any(a.outcome == Outcome.DEADLINE for a in attempts):
        return UpstreamUnavailable(504, f"No provider answered within the request deadline of {deadline:g} s "
                                        f"({summary}).", code="deadline_exceeded", attempts=listing, tried=every)
    if not tried:
        open_for = [breakers[a.provider].retry_in() for a in attempts if a.outcome == Outcome.CIRCUIT_OPEN]
        headers = {"retry-after": str(max(1, math.ceil(min(open_for))))} if open_for else None
        return UpstreamUnavailable(503, f"No provider is available for this request ({summary}).",
                                   code="no_provider_available", attempts=listing, headers=headers, tried=every)
    if all(a.outcome == Outcome.BUSY for a in tried):
        return UpstreamUnavailable(429, f"Every provider is at its connection limit; retry shortly ({summary}).",
                                   code="upstream_capacity_exhausted", attempts=listing, headers={"retry-after": "1"}, tried=every)
    if all(a.outcome == Outcome.TIMEOUT for a in tried):
        return UpstreamUnavailable(504, f"Every provider timed out ({summary}).", code="upstream_timeout", attempts=listing, tried=every)
    return UpstreamUnavailable(502, f"Every provider failed ({summary}).", code="upstream_failed", attempts=listing, tried=every)


def _record(breaker: Breaker, failure: UpstreamFailure) -> None:
    if counts_against_provider(failure):
        breaker.failed(failure.describe(), failure.retry_after if failure.status == 429 else None)
    elif failure.kind == FailureKind.STATUS:
        breaker.succeeded()  # it answered: the refusal was about the input, the provider is up
    else:
        breaker.released()


async def serve_first(targets: tuple[Target, ...], attempt: Callable[[Target], Awaitable[T]], *,
                      breakers: Breakers, deadline: float | None = None,
                      unavailable: Mapping[str, str] | None = None,
                      observer: AttemptObserver | None = None) -> Served[T]:
    """Run `attempt` on each target in order; return the first success or raise the right error.

    Providers in `unavailable` (name → why: no key, engine missing) and targets whose breaker is open
    are skipped without a call. `deadline` (seconds) bounds the whole chain: when it passes, the running
    attempt is cancelled and no further target is tried.
    """
    attempts: list[Attempt] = []
    unavailable = unavailable or {}
    expires = None if deadline is None else asyncio.get_running_loop().time() + deadline
    primary = targets[0] if targets else None
    for target in targets:
        provider, model = target.provider.name, target.model.id
        end = observer.begin(target, primary) if observer is not None and primary is not None else _ignore

        reason = unavailable.get(provider)
        if reason is not None:
            _note(attempts, end, Attempt(provider, model, Outcome.NOT_CONFIGURED, reason))
            continue
        breaker = breakers[provider]
        if not breaker.admit():
            _note(attempts, end, Attempt(provider, model, Outcome.CIRCUIT_OPEN,
                         f"circuit open after repeated failures (next probe in {breaker.retry_in():.1f} s)"))
            continue
        cutoff = asyncio.timeout_at(expires)
        try:
            async with cutoff:
                value = await attempt(target)
        except Unsuitable as exc:
            breaker.released()
            _note(attempts, end, Attempt(provider, model, Outcome.UNSUPPORTED, str(exc)))
            continue
        except UpstreamFailure as failure:
            _record(breaker, failure)
            _note(attempts, end, Attempt(provider, model, Outcome.of(failure.kind), failure.describe(), failure.status))
            if not falls_back(failure):
                raise UpstreamClientError(
                    failure.status or 400, failure.message, param=failure.param, code=failure.code,
                    type_=failure.error_type, tried=tuple(attempts),
                ) from None
            continue
        except TimeoutError:
            breaker.released()  # our deadline, not the provider's own timeout: no verdict on it
            if not cutoff.expired():
                end(None)
                raise
            _note(attempts, end, Attempt(provider, model, Outcome.DEADLINE, f"cut off by the request deadline of {deadline:g} s"))
            break
        except BaseException:
            breaker.released()
            end(None)
            raise
        breaker.succeeded()
        _note(attempts, end, Attempt(provider, model, Outcome.OK))
        return Served(value=value, target=target, attempts=tuple(attempts))
    raise _exhausted(attempts, breakers, deadline)
