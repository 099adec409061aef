"""Which upstream failures fall back to the next target: a pure function.

Falls back: the provider is down, slow, overloaded or misconfigured (connection
errors, timeouts, malformed answers, 408, 429, 5xx, no key, and 401/403/404 —
the gateway's own credentials or model name were refused, which is never the
caller's fault). Does not: the caller's input was refused (other 4xx).

Which failures count against a provider's circuit breaker is a second, narrower
question: a provider fault says the provider is unwell, except 404 (one model
missing says nothing about the others) and `busy` (our own connection limit).
"""

from __future__ import annotations

from ..providers.failures import FailureKind, UpstreamFailure

__all__ = ["falls_back", "counts_against_provider", "RETRYABLE_STATUSES", "PROVIDER_FAULT_STATUSES"]

RETRYABLE_STATUSES = frozenset({408, 429})
PROVIDER_FAULT_STATUSES = frozenset({401, 403, 404})


def falls_back(failure: UpstreamFailure) -> bool:
    if failure.kind != FailureKind.STATUS or failure.status is None:
        return True
    return failure.status >= 500 or failure.status in RETRYABLE_STATUSES or failure.status in PROVIDER_FAULT_STATUSES


def counts_against_provider(failure: UpstreamFailure) -> bool:
    if failure.kind == FailureKind.BUSY:
        return False
    return falls_back(failure) and failure.status != 404
