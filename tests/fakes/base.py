"""What every fake provider shares: lifecycle, recording, auth, fault handling and paced streaming.

Subclasses supply only the provider's truth: its routes, its validation and the exact shape of its error
bodies (``_error_reply``/``_status_error``). Everything a test flips at run time (faults, pacing, transcript
text) lives on the instance, so two fakes never share state.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Self

from .faults import Fault, FaultBoard, Gate
from .http_server import HttpServer, Request, Responder
from .recording import RecordedRequest, record

__all__ = ["DEFAULT_TRANSCRIPT", "FakeProvider", "ProviderError", "Reply", "Route", "split_chunks"]

DEFAULT_TRANSCRIPT = "Hello from the fake transcriber. It has two sentences."
_MID_STREAM = (Fault.RESET_MID_STREAM, Fault.STALL_MID_STREAM)
_MALFORMED_BODY = b'{"text": "Hello from the fake tr\x00<html>not json'


@dataclass(slots=True)
class Reply:
    """A response before it hits the wire. ``stream``: chunked and paced by chunk_delay, else one write."""

    status: int
    headers: list[tuple[str, str]]
    chunks: Sequence[bytes]
    stream: bool = False


@dataclass(eq=False)
class ProviderError(Exception):
    """A request the provider refuses; each fake renders it in that provider's own error shape."""

    status: int
    message: str
    param: str | None = None
    code: str | int | None = None
    type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)


Route = Callable[[RecordedRequest], Reply]


class FakeProvider:
    """Base for FakeOpenAI and FakeSiliconFlow: an HTTP fake with faults, recording and pacing."""

    DEFAULT_API_KEY: ClassVar[str] = "sk-test"
    MAX_BODY_BYTES: ClassVar[int] = 1 << 62
    """The provider's request-size limit; bodies longer than ``max_body_bytes`` get its 413."""

    # Per-test settings; reset() restores the defaults set in _set_defaults().
    chunk_size: int
    """Bytes per streamed body chunk (one SSE delta carries one chunk)."""
    chunk_delay: float
    """Seconds between streamed chunks."""
    first_byte_delay: float
    """Seconds before any answer starts (a slow provider: time to first byte, STT response time)."""
    audio_seconds: float
    """Length of every synthesized speech response."""
    transcript_text: str
    """What the fake STT hears, whatever the upload."""
    retry_after: str | None
    """Retry-After on 429s; None leaves the header out."""
    max_body_bytes: int
    require_auth: bool
    """False: a keyless self-hosted server (speaches, vLLM) that accepts any request."""
    echo_key: bool
    """Error messages quote the presented Authorization header, as some providers do (redaction tests)."""
    speech_body: bytes | None
    """Served as every speech answer's audio instead of real audio (a provider sending junk)."""

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key if api_key is not None else self.DEFAULT_API_KEY
        self._faults = FaultBoard()
        self._gate = Gate()
        self._cond = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._disconnects = 0
        self._server: HttpServer | None = None
        self._routes: dict[tuple[str, str], Route] = self._build_routes()
        self._set_defaults()

    def _set_defaults(self) -> None:
        self.chunk_size = 16 * 1024
        self.chunk_delay = 0.0
        self.first_byte_delay = 0.0
        self.audio_seconds = 0.5
        self.transcript_text = DEFAULT_TRANSCRIPT
        self.retry_after = "1"
        self.max_body_bytes = self.MAX_BODY_BYTES
        self.require_auth = True
        self.echo_key = False
        self.speech_body = None

    # -- lifecycle --------------------------------------------------------------------------------------

    @classmethod
    def start(cls, api_key: str | None = None) -> Self:
        """Construct and start serving on 127.0.0.1; ``url`` is ready when this returns."""
        fake = cls(api_key)
        fake._server = HttpServer(fake._handle).start()
        return fake

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path)."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._server.url

    @property
    def url(self) -> str:
        """Base URL including ``/v1``, as an OpenAI-style client expects it."""
        return f"{self.base_url}/v1"

    # -- test controls ----------------------------------------------------------------------------------

    def inject(self, fault: Fault | str, times: int | None = 1, path: str | None = None, after: int = 0) -> None:
        """Apply ``fault`` to the next ``times`` requests (None: until reset) to ``path`` (None: any), once
        ``after`` matching requests have been served normally ("fail after two pieces")."""
        self._faults.inject(fault, times, path, after)

    def release(self) -> None:
        """Let every currently hung or stalled request continue."""
        if self._server is not None:
            self._server.call_soon(self._gate.open)

    def reset(self) -> None:
        """Clear faults and recorded requests, restore default settings, release hangs."""
        self._faults.clear()
        self.release()
        with self._cond:
            self._requests.clear()
            self._disconnects = 0
        self._set_defaults()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    @property
    def hits(self) -> int:
        with self._cond:
            return len(self._requests)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``n`` requests have arrived (recorded before any fault acts)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= n, timeout):
                raise TimeoutError(f"{type(self).__name__}: {len(self._requests)} of {n} requests after {timeout}s")
            return list(self._requests)

    def wait_for_disconnects(self, n: int, timeout: float = 5.0) -> bool:
        """Block until ``n`` streamed responses were cut off by the client closing its connection."""
        with self._cond:
            return self._cond.wait_for(lambda: self._disconnects >= n, timeout)

    async def await_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """``wait_for_requests`` for async tests, without blocking their event loop."""
        return await asyncio.to_thread(self.wait_for_requests, n, timeout)

    # -- provider hooks ---------------------------------------------------------------------------------

    def _build_routes(self) -> dict[tuple[str, str], Route]:
        raise NotImplementedError

    def _response_headers(self, elapsed_ms: int) -> list[tuple[str, str]]:
        """Headers the provider puts on every response (request ids and the like)."""
        return []

    def _error_reply(self, error: ProviderError, request: RecordedRequest) -> Reply:
        raise NotImplementedError

    def _status_error(self, status: int, request: RecordedRequest) -> ProviderError:
        """The provider's canonical error for a bare status (used by http_NNN faults, auth, 404, 413)."""
        raise NotImplementedError

    def _authorized(self, request: RecordedRequest) -> bool:
        return not self.require_auth or request.headers.get("authorization") == f"Bearer {self.api_key}"

    # -- serving ----------------------------------------------------------------------------------------

    async def _handle(self, raw: Request, respond: Responder) -> None:
        started = time.perf_counter()
        ticket = self._gate.ticket()  # taken before recording, so a release() seen by a waiter applies
        request = record(raw)
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()
        fault = self._faults.take(request.path)
        if fault is Fault.HANG:
            await ticket.wait()
            fault = None
        if fault is Fault.RESET:
            await respond.abort()
            return
        if self.first_byte_delay > 0:
            await asyncio.sleep(self.first_byte_delay)
        reply = self._reply(request, fault)
        reply.headers[:0] = self._response_headers(round((time.perf_counter() - started) * 1000))
        await self._emit(reply, respond, fault, ticket)

    def _reply(self, request: RecordedRequest, fault: Fault | None) -> Reply:
        if fault is Fault.MALFORMED:
            return Reply(200, [("content-type", "application/json")], [_MALFORMED_BODY])
        try:
            if fault is not None and fault.status is not None:
                raise self._status_error(fault.status, request)
            if len(request.body) > self.max_body_bytes:
                raise self._status_error(413, request)
            if not self._authorized(request):
                raise self._status_error(401, request)
            route = self._routes.get((request.method, request.path))
            if route is None:
                raise self._status_error(404, request)
            return route(request)
        except ProviderError as error:
            if self.echo_key:
                error.message = f"{error.message} (you sent: {request.headers.get('authorization', '')})"
            if error.status == 429 and self.retry_after is not None:
                error.headers.append(("retry-after", self.retry_after))
            reply = self._error_reply(error, request)
            reply.headers.extend(error.headers)
            return reply

    async def _emit(self, reply: Reply, respond: Responder, fault: Fault | None, ticket: asyncio.Event) -> None:
        if not reply.stream and fault not in _MID_STREAM:
            await respond.respond(reply.status, reply.headers, b"".join(reply.chunks))
            return
        chunks = list(reply.chunks)
        headers = reply.headers
        if not reply.stream:
            headers = [*headers, ("content-length", str(sum(map(len, chunks))))]
        if fault in _MID_STREAM and len(chunks) < 2:
            body = b"".join(chunks)
            chunks = [body[: len(body) // 2], body[len(body) // 2 :]]
        await respond.send_head(reply.status, headers)
        try:
            for index, chunk in enumerate(chunks):
                if index and self.chunk_delay > 0:
                    await asyncio.sleep(self.chunk_delay)
                await respond.send(chunk)
                if index == 0 and fault is Fault.RESET_MID_STREAM:
                    await respond.abort()
                    return
                if index == 0 and fault is Fault.STALL_MID_STREAM:
                    await ticket.wait()
            await respond.end()
        except ConnectionError:
            with self._cond:  # the client (the gateway) hung up mid-stream
                self._disconnects += 1
                self._cond.notify_all()
            raise


def split_chunks(data: bytes, size: int) -> list[bytes]:
    """``data`` in ``size``-byte pieces (at least one piece, possibly empty)."""
    size = max(1, size)
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]
