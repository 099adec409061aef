"""Trying a route's targets in order until one serves.

Generic over what "serving" means: speech passes a function that opens a stream
(and so commits only once the first audio byte is in hand), transcription one
that returns a transcript. Every attempt is recorded so the final error, the
headers and the log can say what happened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import msgspec

from ..catalog.model import Target
from ..errors import UpstreamClientError, UpstreamUnavailable
from ..providers.base import UpstreamFailure
from .policy import falls_back

__all__ = ["Attempt", "Served", "serve_first", "Unsuitable"]

T = TypeVar("T")


class Attempt(msgspec.Struct, frozen=True):
    provider: str
    model: str
    outcome: str          # ok | not_configured | unsupported | timeout | connect | status | malformed
    reason: str = ""
    status: int | None = None

    @property
    def reached_provider(self) -> bool:
        """False for targets skipped without a call (no key, cannot honour the request)."""
        return self.outcome not in ("not_configured", "unsupported")


class Unsuitable(Exception):
    """Raised by a caller's `prepare` when a target cannot honour the request (e.g. a format)."""


class Served(msgspec.Struct, Generic[T], frozen=True):
    value: T
    target: Target
    attempts: tuple[Attempt, ...]


def _exhausted(attempts: list[Attempt]) -> UpstreamUnavailable:
    """502 in general; 503 when nothing was configured to try; 504 when everything timed out."""
    tried = [a for a in attempts if a.reached_provider]
    listing = [msgspec.structs.asdict(a) for a in attempts]
    summary = "; ".join(f"{a.model} via {a.provider}: {a.reason}" for a in attempts)
    if not tried:
        return UpstreamUnavailable(503, f"No provider is available for this request ({summary}).",
                                   code="no_provider_available", attempts=listing)
    if all(a.outcome == "timeout" for a in tried):
        return UpstreamUnavailable(504, f"Every provider timed out ({summary}).", code="upstream_timeout", attempts=listing)
    return UpstreamUnavailable(502, f"Every provider failed ({summary}).", code="upstream_failed", attempts=listing)


async def serve_first(targets: tuple[Target, ...], attempt: Callable[[Target], Awaitable[T]]) -> Served[T]:
    """Run `attempt` on each target in order; return the first success or raise the right error."""
    attempts: list[Attempt] = []
    for target in targets:
        provider, model = target.provider.name, target.model.id
        if not target.provider.configured:
            attempts.append(Attempt(provider, model, "not_configured", "no API key configured"))
            continue
        try:
            value = await attempt(target)
        except Unsuitable as exc:
            attempts.append(Attempt(provider, model, "unsupported", str(exc)))
            continue
        except UpstreamFailure as failure:
            attempts.append(Attempt(provider, model, failure.kind, failure.describe(), failure.status))
            if not falls_back(failure):
                raise UpstreamClientError(
                    failure.status or 400, failure.message, param=failure.param, code=failure.code,
                    type_=failure.error_type,
                ) from None
            continue
        attempts.append(Attempt(provider, model, "ok"))
        return Served(value=value, target=target, attempts=tuple(attempts))
    raise _exhausted(attempts)
