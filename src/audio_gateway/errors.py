"""The gateway's error tree, and the one place it becomes OpenAI's error body.

    GatewayError                      → {"error": {"message", "type", "param", "code"}}
     ├── InvalidRequest        400    invalid_request_error (bad field: `param` names it)
     ├── AuthenticationFailed  401    invalid_request_error / invalid_api_key
     ├── PermissionDenied      403    invalid_request_error / insufficient_permissions (the key may not do that)
     ├── NotFound              404    invalid_request_error (model_not_found, job_not_found…)
     ├── RequestTimeout        408    invalid_request_error / client_timeout (the body stalled)
     ├── Conflict              409    invalid_request_error (idempotency key reuse, finished job)
     ├── PayloadTooLarge       413    invalid_request_error
     ├── QuotaExceeded         429    insufficient_quota (the key's budget for this period is spent)
     ├── RateLimited           429    requests / characters / audio_seconds, code rate_limit_exceeded
     ├── UpstreamClientError   4xx    the provider refused the caller's input (passed through)
     ├── UpstreamUnavailable   502/503/504  every target failed; lists each attempt
     └── ServiceUnavailable    503    a feature is not configured (e.g. jobs without Redis)

Anything else that escapes a handler becomes a 500 `server_error` with no detail.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

__all__ = [
    "GatewayError", "InvalidRequest", "AuthenticationFailed", "PermissionDenied", "NotFound", "RequestTimeout",
    "Conflict", "PayloadTooLarge", "QuotaExceeded", "RateLimited", "UpstreamClientError", "UpstreamUnavailable", "ServiceUnavailable", "error_body", "encode_error",
]


class ErrorDetail(msgspec.Struct, frozen=True):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(msgspec.Struct, frozen=True):
    error: ErrorDetail


class GatewayError(Exception):
    status: int = 500
    type: str = "server_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}
        self.extra = extra or {}


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class AuthenticationFailed(GatewayError):
    status = 401
    type = "invalid_request_error"

    def __init__(self, message: str = "Missing or invalid API key. Send `Authorization: Bearer <key>`."):
        super().__init__(message, code="invalid_api_key")


class PermissionDenied(GatewayError):
    """403: the key is valid but may not touch what it named. OpenAI answers a key short of a scope with
    type `invalid_request_error` ("You have insufficient permissions for this operation"); so do we."""

    status = 403
    type = "invalid_request_error"

    def __init__(self, message: str, *, param: str | None = None, code: str = "insufficient_permissions"):
        super().__init__(message, param=param, code=code)


class NotFound(GatewayError):
    status = 404
    type = "invalid_request_error"


class RequestTimeout(GatewayError):
    status = 408
    type = "invalid_request_error"


class Conflict(GatewayError):
    """409: the request clashes with existing state (a reused Idempotency-Key, a finished job)."""

    status = 409
    type = "invalid_request_error"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"


class QuotaExceeded(GatewayError):
    """429 as OpenAI sends it for a spent quota. `x-should-retry: false` tells the OpenAI SDKs not to retry:
    waiting a second will not refill a budget."""

    status = 429
    type = "insufficient_quota"

    def __init__(self, message: str):
        super().__init__(message, code="insufficient_quota", headers={"x-should-retry": "false"})


class RateLimited(GatewayError):
    """429 as OpenAI sends it for a rate limit: `type` names what ran out (OpenAI: "requests", "tokens")."""

    status = 429

    def __init__(self, message: str, *, type_: str, retry_after: float):
        wait = max(retry_after, 0.001)
        super().__init__(message, code="rate_limit_exceeded",
                         headers={"retry-after": str(max(1, math.ceil(wait))), "retry-after-ms": str(math.ceil(wait * 1000))})
        self.type = type_
        self.states: tuple[Any, ...] = ()   # the buckets' levels, for the x-ratelimit headers


class UpstreamClientError(GatewayError):
    """The provider rejected the caller's own input; its status and message are kept.

    `tried` holds the routing attempts (typed) up to and including the refusal, for the ledger."""

    type = "invalid_request_error"

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type_: str | None = None, tried: tuple[Any, ...] = ()):
        super().__init__(message, param=param, code=code)
        self.status = status
        self.tried = tried
        if type_:
            self.type = type_


class UpstreamUnavailable(GatewayError):
    """All targets failed. `extra["attempts"]` lists provider, model and reason for each; `tried` the same, typed."""

    type = "upstream_error"

    def __init__(self, status: int, message: str, *, code: str, attempts: list[dict[str, Any]],
                 headers: dict[str, str] | None = None, tried: tuple[Any, ...] = ()):
        super().__init__(message, code=code, headers=headers, extra={"attempts": attempts})
        self.status = status
        self.tried = tried


class ServiceUnavailable(GatewayError):
    status = 503
    type = "service_unavailable"


def error_body(error: GatewayError) -> dict[str, Any]:
    """OpenAI's shape, all four keys present; gateway extras (attempts) ride alongside."""
    detail: dict[str, Any] = {"message": error.message, "type": error.type, "param": error.param, "code": error.code}
    detail.update(error.extra)
    return {"error": detail}


def encode_error(message: str, type_: str, *, param: str | None = None, code: str | None = None) -> bytes:
    return msgspec.json.encode(ErrorBody(ErrorDetail(message=message, type=type_, param=param, code=code)))
