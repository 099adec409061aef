"""A request body that stalls gets 408, not a handler parked forever on `receive()`.

Pure ASGI middleware: each wait for the next body chunk is bounded by the client timeout.
Once the body is complete `receive()` is passed through untouched, because streaming
responses keep waiting on it for `http.disconnect` for as long as they run.

One timer per request, not one `asyncio.timeout()` per `receive()`: an upload arrives in many
chunks, and a `Timeout`, a `TimerHandle` and a loop look-up each was per-byte work (2-5 % of the
CPU, benchmarks/PROFILE-NOTES.md). Each chunk only moves the deadline on; the timer, when it fires
early, re-arms itself for the deadline as it then stands, and when it fires late it cancels the
wait, which `receive()` turns into the 408 (as `asyncio.timeout` does, with `uncancel`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import RequestTimeout

__all__ = ["ClientTimeoutMiddleware"]


class _BodyDeadline:
    """`timeout` seconds for each wait on the body; `fired` once it cancelled the waiting task."""

    __slots__ = ("timeout", "_loop", "_deadline", "_handle", "_waiting", "fired")

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._deadline = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._waiting: asyncio.Task[Any] | None = None
        self.fired = False

    def waiting(self) -> None:
        """A wait for the next chunk begins: `timeout` from now."""
        self._deadline = self._loop.time() + self.timeout
        self._waiting = asyncio.current_task()
        if self._handle is None:
            self._handle = self._loop.call_at(self._deadline, self._check)

    def arrived(self) -> None:
        self._waiting = None

    def stop(self) -> None:
        self._waiting = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        self._handle = None
        if self._waiting is None:
            return  # between two waits: the next one arms a timer again
        if self._loop.time() < self._deadline:
            self._handle = self._loop.call_at(self._deadline, self._check)
            return
        self.fired = True
        self._waiting.cancel()


class ClientTimeoutMiddleware:
    def __init__(self, app: Any, timeout: float):
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False
        deadline: _BodyDeadline | None = None

        async def bounded_receive() -> dict:
            nonlocal body_done, deadline
            if body_done:
                return await receive()
            if deadline is None:
                deadline = _BodyDeadline(self.timeout)
            deadline.waiting()
            try:
                message = await receive()
            except asyncio.CancelledError:
                if not deadline.fired:
                    raise
                asyncio.current_task().uncancel()  # type: ignore[union-attr]
                body_done = True
                deadline.stop()
                raise RequestTimeout(f"The request body stalled for {self.timeout:g} s.", code="client_timeout") from None
            deadline.arrived()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
                deadline.stop()
            return message

        try:
            await self.app(scope, bounded_receive, send)
        finally:
            if deadline is not None:
                deadline.stop()
