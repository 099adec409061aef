"""How the gateway is served: uvicorn with httptools, bounded against slow or bloated clients.

uvicorn's httptools protocol buffers a request head of any size and waits for it forever
(its keep-alive timer only runs between requests), so one slow or bloated client could hold
a connection and memory without bound. `bounded_protocol` closes those gaps at the protocol
level, before any ASGI code runs, and answers in OpenAI's error shape:

- 431 when a request head (request line + headers) passes `max_header_bytes`;
- 408 when a connection has not sent a complete head within `client_timeout` seconds;
- 400 for malformed HTTP (uvicorn's own answer is plain text);
- an answer given before the request body is in (401 without a key, 413, a 400 mid-upload) ends the
  connection: the rest of the body is read and thrown away for at most LINGER_SECONDS (never longer
  than the client timeout) and LINGER_BYTES, so that a client still sending gets to read the answer
  instead of a reset, then the connection closes (uvicorn would keep it open for as long as bytes
  trickle in, since each one restarts its keep-alive timer). Such an answer says `connection: close`,
  so the client does not send its next request into the linger;
- 503 `server_busy` (with Retry-After) for a request arriving while `max_connections` connections are
  open: uvicorn's own `limit_concurrency` check, answered in OpenAI's shape rather than plain text. A
  connection opened past the limit gets OVER_LIMIT_HEAD_SECONDS, not the whole client timeout, to send
  its head, so connections piling up past the limit cost little.

Idle keep-alive connections close after `timeout_keep_alive` (5 s); the kernel's accept queue is
uvicorn's `backlog` (2048). A body that stalls is the ASGI layer's job (`api.client_timeout`).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import weakref
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from .api.context import RequestContextMiddleware
from .errors import encode_error
from .settings import Settings

__all__ = ["bounded_protocol", "uvicorn_config", "LINGER_SECONDS", "LINGER_BYTES", "OVER_LIMIT_HEAD_SECONDS"]

log = logging.getLogger("audio_gateway")

LINGER_SECONDS = 5.0
LINGER_BYTES = 32 * 1024 * 1024  # more than a 25 MB upload: a client refused mid-upload still reads its answer
OVER_LIMIT_HEAD_SECONDS = 1.0
_FDS_KEPT_BACK = 64  # descriptors left for files, Redis, S3 and the like when fitting max_connections to ulimit -n

_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large",
            503: b"Service Unavailable"}


def _error_response(status: int, message: str, code: str, *, type_: str = "invalid_request_error",
                    headers: bytes = b"") -> bytes:
    body = encode_error(message, type_, code=code)
    return b"".join([
        b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status]),
        b"content-type: application/json\r\n",
        b"content-length: %d\r\n" % len(body),
        headers,
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
        self._linger_timer: asyncio.TimerHandle | None = None
        self._linger_left = 0
        over_limit = self.limit_concurrency is not None and len(self.connections) >= self.limit_concurrency
        head_timeout = min(self.head_timeout, OVER_LIMIT_HEAD_SECONDS) if over_limit else self.head_timeout
        self._head_timer: asyncio.TimerHandle | None = self.loop.call_later(head_timeout, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._rejected:
            return
        if self._linger_timer is not None:  # the rest of a body already answered: count it, drop it
            self._linger_left -= len(data)
            if self._linger_left < 0 and not self.transport.is_closing():
                self.transport.close()
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
        limit = self.limit_concurrency  # uvicorn's own test, answered here in OpenAI's shape
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            self._reject(503, "The gateway is serving as many connections as it may; retry shortly.", "server_busy",
                         type_="service_unavailable", headers=b"retry-after: 1\r\n")
            return
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.send = _closing_early(self.cycle)  # type: ignore[method-assign]

    def on_body(self, body: bytes) -> None:
        if not self._rejected:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._rejected:
            return
        self._awaiting_head = True  # whatever comes next on this connection is a new head
        super().on_message_complete()

    def on_response_complete(self) -> None:
        """Answered before the request body was all in: linger, bounded, then close (never keep-alive)."""
        if self.cycle is not None and self.cycle.more_body and not self.transport.is_closing():
            self.server_state.total_requests += 1
            self._awaiting_head = False
            self._disarm_head_timer()
            self._linger_left = LINGER_BYTES
            self._linger_timer = self.loop.call_later(min(LINGER_SECONDS, self.head_timeout), self._end_linger)
            if self.transport.can_write_eof():
                self.transport.write_eof()  # after the answer: the client sees its end, then our FIN
            self.flow.resume_reading()
            return
        super().on_response_complete()

    def _end_linger(self) -> None:
        self._linger_timer = None
        if not self.transport.is_closing():
            self.transport.close()

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

    def _reject(self, status: int, message: str, code: str, **response: Any) -> None:
        self._rejected = True
        self._disarm_head_timer()
        self.logger.warning("rejected a request: %s", message)
        self.transport.write(_error_response(status, message, code, **response))
        self.transport.close()

    def _disarm_head_timer(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None


def _closing_early(cycle: RequestResponseCycle) -> Any:
    """The cycle's `send`, saying `connection: close` on an answer that starts before the body is all in.

    Without it a client would pool the connection and send its next request into our linger, which
    drops it: "server disconnected without a response". uvicorn closes at once on `connection: close`
    (a reset for a client still sending), so keep-alive is switched back on after the head is written
    and `on_response_complete` lingers, then closes.

    The wrapper holds the cycle weakly (and calls the class's `send` on it): the cycle holds the wrapper,
    so a strong reference either way made every request a reference cycle only the collector could free.
    """
    held = weakref.ref(cycle)

    async def send_closing(message: Any) -> None:
        live = held()
        assert live is not None, "only the cycle itself calls its send"
        if message["type"] != "http.response.start" or not live.more_body:
            await RequestResponseCycle.send(live, message)
            return
        closing: Any = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
        await RequestResponseCycle.send(live, closing)
        live.keep_alive = True

    return send_closing


def bounded_protocol(*, max_header_bytes: int, head_timeout: float) -> type[HttpToolsProtocol]:
    """uvicorn instantiates the protocol class itself, so the limits ride on a subclass."""
    return type("BoundedHttpToolsProtocol", (_BoundedHttpTools,),
                {"max_header_bytes": max_header_bytes, "head_timeout": head_timeout})


def _connection_limit(wanted: int) -> int:
    """`max_connections`, lowered (with a warning) to what `ulimit -n` leaves room for: each client
    connection may hold a provider connection too, and past the limit the process would fail to accept
    or connect at all (EMFILE) rather than answer 503."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    room = (soft - _FDS_KEPT_BACK) // 2 if soft != resource.RLIM_INFINITY else wanted
    if wanted > room:
        log.warning("AUDIO_GATEWAY_MAX_CONNECTIONS=%d needs about %d descriptors but `ulimit -n` is %d: serving "
                    "at most %d connections per process; raise the limit to serve more", wanted,
                    2 * wanted + _FDS_KEPT_BACK, soft, max(1, room))
        return max(1, room)
    return wanted


def uvicorn_config(app: Any, settings: Settings, *, host: str, port: int, **overrides: Any) -> uvicorn.Config:
    """One place for server settings, shared by `serve` and the tests' in-process gateway.

    The request context (x-request-id, the access log line) wraps the whole app here, outside
    Litestar's routing, so that every response has it, 404s and 405s included. uvicorn's
    `limit_concurrency` counts the connection asking, hence the + 1: `max_connections` are served."""
    options: dict[str, Any] = dict(
        host=host, port=port, log_level=settings.log_level.lower(), access_log=False, server_header=False,
        http=bounded_protocol(max_header_bytes=settings.max_header_bytes, head_timeout=settings.client_timeout_seconds),
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        timeout_keep_alive=5,
        limit_concurrency=_connection_limit(settings.max_connections) + 1,
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )
    options.update(overrides)
    return uvicorn.Config(RequestContextMiddleware(app), **options)

