"""A tiny HTTP/1.1 server (asyncio streams + h11) that runs its own loop in a daemon thread.

Why not a framework: the fakes must control the wire exactly — chunk pacing, a stall after the first
chunk, a TCP RST mid-body — which ASGI servers hide. Everything for one connection runs as one task on
the server's loop, so a hung handler only blocks its own connection and no request hops threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

import h11

__all__ = ["Handler", "HttpServer", "Request", "Responder"]

log = logging.getLogger(__name__)

_READ_SIZE = 256 * 1024

HeaderItems = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass(slots=True)
class Request:
    """One fully read request. ``headers`` has lower-cased names (repeats joined with ", ")."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    raw_headers: list[tuple[str, str]] = field(default_factory=list)


class Responder:
    """Writes one response on a connection; ``abort()`` resets the TCP connection instead."""

    __slots__ = ("_conn", "_writer", "started", "ended", "aborted")

    def __init__(self, conn: h11.Connection, writer: asyncio.StreamWriter) -> None:
        self._conn = conn
        self._writer = writer
        self.started = False
        self.ended = False
        self.aborted = False

    async def send_head(self, status: int, headers: HeaderItems = ()) -> None:
        """Send the status line and headers; without content-length the body is chunked."""
        self.started = True
        await self._write(self._head(status, headers))

    async def send(self, chunk: bytes) -> None:
        if chunk:
            await self._write(self._conn.send(h11.Data(data=chunk)))

    async def end(self) -> None:
        self.ended = True
        await self._write(self._conn.send(h11.EndOfMessage()))

    async def respond(self, status: int, headers: HeaderItems = (), body: bytes = b"") -> None:
        """Whole response in one write (the fast path); adds content-length when missing."""
        items = _items(headers)
        framed = any(name.lower() in ("content-length", "transfer-encoding") for name, _ in items)
        if not framed and status not in (204, 304):
            items.append(("content-length", str(len(body))))
        self.started = self.ended = True
        data = self._head(status, items)
        if body:
            data += self._conn.send(h11.Data(data=body))
        await self._write(data + self._conn.send(h11.EndOfMessage()))

    async def abort(self) -> None:
        """Close with a TCP RST (SO_LINGER 0), whatever has been sent so far."""
        self.aborted = True
        _reset(self._writer)

    def _head(self, status: int, headers: HeaderItems) -> bytes:
        items = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in _items(headers)]
        return self._conn.send(h11.Response(status_code=status, headers=items))

    async def _write(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()


Handler = Callable[[Request, Responder], Awaitable[None]]


class HttpServer:
    """Serves ``handler`` on 127.0.0.1:<free port> from a background thread until ``stop()``."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self._startup_error: BaseException | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpServer:
        """Start the loop thread; returns once the socket is listening."""
        self._thread = threading.Thread(target=self._run, name=f"http-server-{id(self):x}", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._startup_error is not None:
            raise RuntimeError("fake HTTP server failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        """Close the listener and every connection (hung handlers included), then join the thread."""
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)
        self._thread = None

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the server loop (the only safe way to touch loop objects from outside)."""
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(callback)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._startup_error = exc
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=4096, limit=_READ_SIZE)
        self.port = server.sockets[0].getsockname()[1]
        self._started.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await _read_request(conn, reader, writer)
                if request is None:
                    break
                responder = Responder(conn, writer)
                await self._dispatch(request, responder)
                if responder.aborted or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except asyncio.CancelledError:
            _reset(writer)
        except h11.RemoteProtocolError as exc:  # not HTTP: answer 400 like a real server, then close
            with contextlib.suppress(h11.LocalProtocolError, ConnectionError):
                head = h11.Response(status_code=exc.error_status_hint, headers=[("content-length", "0")])
                writer.write(conn.send(head))
                await writer.drain()
        except (ConnectionError, h11.LocalProtocolError):  # client gone, or a handler error already logged
            pass
        finally:
            self._connections.discard(task)
            if not writer.is_closing():
                writer.close()

    async def _dispatch(self, request: Request, responder: Responder) -> None:
        try:
            await self._handler(request, responder)
            if not responder.aborted and not responder.ended:
                if responder.started:
                    await responder.end()
                else:
                    await responder.respond(204)
        except ConnectionError:
            responder.aborted = True
        except Exception:
            log.exception("fake server handler failed for %s %s", request.method, request.path)
            if responder.started:
                await responder.abort()
            else:
                await responder.respond(500, [("content-type", "text/plain")], b"fake server error")


async def _read_request(
    conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> Request | None:
    """Read one whole request; None when the client closed the connection between requests."""
    head: h11.Request | None = None
    body: list[bytes] = []
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            if conn.they_are_waiting_for_100_continue:
                writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
            data = await reader.read(_READ_SIZE)
            if not data and head is None and conn.their_state is h11.IDLE:
                return None
            conn.receive_data(data)
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            return _request(head, b"".join(body))
        elif isinstance(event, h11.ConnectionClosed):
            return None


def _request(head: h11.Request, body: bytes) -> Request:
    target = head.target.decode("latin-1")
    path, _, query = target.partition("?")
    raw = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in head.headers]
    headers: dict[str, str] = {}
    for name, value in raw:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return Request(head.method.decode("ascii"), path, query, headers, body, raw)


def _items(headers: HeaderItems) -> list[tuple[str, str]]:
    return list(headers.items()) if isinstance(headers, Mapping) else list(headers)


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
