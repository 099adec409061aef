"""An httpx transport on aiohttp's connection pool: adapters keep httpx's API, the hot path loses httpcore's.

Why: with 32 requests in flight, httpcore's pool spent a third of the gateway's CPU choosing a
connection (every request polls every pooled socket) and its anyio stream layer most of the rest;
TTS through the gateway topped out near 400 req/s on 2 cores (benchmarks/RESULTS.md). aiohttp keeps
idle connections per host in a list and parses responses in C.

The contract the adapters and `map_transport_errors` rely on is kept:
- at most `max_connections` requests in flight; waiting longer than the `pool` timeout raises
  `httpx.PoolTimeout` (the gateway's "busy");
- connect and read timeouts come from the request's `timeout` extension, as httpx sets them;
- failures surface as httpx exceptions (ConnectError, ConnectTimeout, ReadTimeout, ReadError,
  RemoteProtocolError), never as aiohttp's;
- bodies stream both ways; closing a response before its end drops its connection instead of
  returning it to the pool.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import certifi
import httpx
from yarl import URL

__all__ = ["AIOHTTP_URL", "AiohttpTransport"]

# A request extension: its URL already parsed as a yarl URL (`upstream.py` keeps one per path).
AIOHTTP_URL = "aiohttp_url"

# Checked in order: the first matching aiohttp class picks the httpx exception.
_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.ClientConnectionError, httpx.ReadError),
    (aiohttp.ClientError, httpx.RemoteProtocolError),
)


@contextmanager
def _mapped(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientError as exc:
        kind = next(httpx_type for aiohttp_type, httpx_type in _ERRORS if isinstance(exc, aiohttp_type))
        raise kind(f"{type(exc).__name__}: {exc}", request=request) from exc


class _Body(httpx.AsyncByteStream):
    """The response body as it arrives; closing it frees the pool slot (once)."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request, slot: asyncio.Semaphore):
        self._response, self._request, self._slot = response, request, slot
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(self._request):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._response.release()  # back to the pool only if the body was read to its end
            self._slot.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One per provider client. The aiohttp session is made on first use, inside the running loop."""

    def __init__(self, max_connections: int, keepalive_seconds: float = 5.0):
        self._max_connections = max_connections
        self._keepalive_seconds = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}  # one per setting

    def _open(self) -> tuple[aiohttp.ClientSession, asyncio.Semaphore]:
        if self._session is None or self._slots is None:
            # The semaphore is the pool bound (so a full pool can time out as PoolTimeout); the
            # connector itself is left unbounded.
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=self._keepalive_seconds,
                                             ssl=ssl.create_default_context(cafile=certifi.where()))
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False, trust_env=False,
                max_line_size=65536, max_field_size=65536)
            self._slots = asyncio.Semaphore(self._max_connections)
        return self._session, self._slots

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session, slots = self._open()
        timeout = request.extensions.get("timeout", {})
        if slots.locked():  # only a wait for a slot needs a timer
            try:
                async with asyncio.timeout(timeout.get("pool")):
                    await slots.acquire()
            except TimeoutError:
                raise httpx.PoolTimeout(f"no free connection within {timeout.get('pool')} s", request=request) from None
        else:
            await slots.acquire()
        try:
            try:
                body: bytes | httpx.AsyncByteStream | None = request.content or None
            except httpx.RequestNotRead:
                body = request.stream  # type: ignore[assignment]
            headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "transfer-encoding"]
            url = request.extensions.get(AIOHTTP_URL) or URL(str(request.url), encoded=True)
            with _mapped(request):
                response = await session.request(
                    request.method, url, headers=headers, data=body, allow_redirects=False, compress=None,
                    timeout=self._timeout(timeout.get("connect"), timeout.get("read")),
                )
        except BaseException:
            slots.release()
            raise
        return httpx.Response(
            status_code=response.status, headers=response.raw_headers, stream=_Body(response, request, slots),
            request=request, extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    def _timeout(self, connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
        found = self._timeouts.get((connect, read))
        if found is None:
            found = self._timeouts[(connect, read)] = aiohttp.ClientTimeout(total=None, sock_connect=connect,
                                                                            sock_read=read)
        return found

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
