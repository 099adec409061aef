"""How one attempt at one provider can fail, as data routing can decide on.

    UpstreamFailure(kind)
      connect    the connection could not be made or broke before an answer
      timeout    no first byte within first_byte_seconds, or a stream went silent past read_seconds
      status     the provider answered an HTTP error (`status` set; its message already redacted)
      malformed  a 2xx that is not what the wire format promises (wrong content type, unreadable body)
      busy       our own bound: no connection (or local engine slot) was free within connect_seconds

Adapters only classify; `routing.policy` decides what a failure means (fall back or not).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FailureKind", "UpstreamFailure"]


class FailureKind(StrEnum):
    CONNECT = "connect"
    TIMEOUT = "timeout"
    STATUS = "status"
    MALFORMED = "malformed"
    BUSY = "busy"


class UpstreamFailure(Exception):
    """One attempt at one provider failed. `status` is the upstream HTTP status when there was one."""

    def __init__(self, kind: FailureKind | str, message: str, *, status: int | None = None,
                 retry_after: float | None = None, param: str | None = None, code: str | None = None,
                 error_type: str | None = None):
        super().__init__(message)
        self.kind = FailureKind(kind)
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.param = param
        self.code = code
        self.error_type = error_type

    def describe(self) -> str:
        return f"HTTP {self.status}: {self.message}" if self.status else f"{self.kind}: {self.message}"
