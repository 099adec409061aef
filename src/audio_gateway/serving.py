"""How the gateway is served: uvicorn with httptools, bounded against slow or bloated clients.

uvicorn's httptools protocol buffers a request head of any size and waits for it forever
(its keep-alive timer only runs between requests), so one slow or bloated client could hold
a connection and memory without bound. `bounded_protocol` closes both gaps at the protocol
level, before any ASGI code runs, and answers in OpenAI's error shape:

- 431 when a request head (request line + headers) passes `max_header_bytes`;
- 408 when a connection has not sent a complete head within `client_timeout` seconds;
- 400 for malformed HTTP (uvicorn's own answer is plain text).

A body that stalls is the ASGI layer's job (`api.client_timeout`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .api.context import RequestContextMiddleware
from .errors import encode_error
from .settings import Settings

__all__ = ["bounded_protocol", "uvicorn_config"]

_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def _error_response(status: int, message: str, code: str) -> bytes:
    body = encode_error(message, "invalid_request_error", code=code)
    return b"".join([
        b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status]),
        b"content-type: application/json\r\n",
        b"content-length: %d\r\n" % len(body),
        b"connection: close\r\n\r\n",
        body,
    ])


class _BoundedHttpTools(HttpToolsProtocol):
    max_header_bytes = 64 * 1024
    head_timeout = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._awaiting_head = True
        self._rejected = False
        self._head_timer: asyncio.TimerHandle | None = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._rejected:
            return
        if self._awaiting_head:
            self._head_bytes += len(data)
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)
        super().data_received(data)
        if self._awaiting_head and self._head_bytes > self.max_header_bytes and not self.transport.is_closing():
            self._reject(431, f"The request head is larger than {self.max_header_bytes} bytes.",
                         "request_header_too_large")

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        self._head_bytes = 0
        self._disarm_head_timer()
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.max_header_bytes:  # a whole head that arrived in one read
            self._reject(431, f"The request head is larger than {self.max_header_bytes} bytes.",
                         "request_header_too_large")
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._rejected:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._rejected:
            return
        self._awaiting_head = True  # whatever comes next on this connection is a new head
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """Malformed HTTP: the same answer as uvicorn's, in OpenAI's error shape instead of plain text."""
        self._rejected = True
        self._disarm_head_timer()
        self.transport.write(_error_response(400, msg, "invalid_http_request"))
        self.transport.close()

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._awaiting_head and not self.transport.is_closing():
            if self._head_bytes:
                self._reject(408, f"The request head did not arrive within {self.head_timeout:g} s.",
                             "client_timeout")
            else:
                self.transport.close()  # an idle connection that never asked anything: just hang up

    def _reject(self, status: int, message: str, code: str) -> None:
        self._rejected = True
        self._disarm_head_timer()
        self.logger.warning("rejected a request: %s", message)
        self.transport.write(_error_response(status, message, code))
        self.transport.close()

    def _disarm_head_timer(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None


def bounded_protocol(*, max_header_bytes: int, head_timeout: float) -> type[HttpToolsProtocol]:
    """uvicorn instantiates the protocol class itself, so the limits ride on a subclass."""
    return type("BoundedHttpToolsProtocol", (_BoundedHttpTools,),
                {"max_header_bytes": max_header_bytes, "head_timeout": head_timeout})


def uvicorn_config(app: Any, settings: Settings, *, host: str, port: int, **overrides: Any) -> uvicorn.Config:
    """One place for server settings, shared by `serve` and the tests' in-process gateway.

    The request context (x-request-id, the access log line) wraps the whole app here, outside
    Litestar's routing, so that every response has it, 404s and 405s included."""
    options: dict[str, Any] = dict(
        host=host, port=port, log_level=settings.log_level.lower(), access_log=False, server_header=False,
        http=bounded_protocol(max_header_bytes=settings.max_header_bytes, head_timeout=settings.client_timeout_seconds),
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )
    options.update(overrides)
    return uvicorn.Config(RequestContextMiddleware(app), **options)

