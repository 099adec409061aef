"""HTTP mechanics shared by every adapter: deadlines, transport errors, bounded error bodies.

`map_transport_errors()` is the single place where httpx exceptions become
`UpstreamFailure`, the way httpx itself maps httpcore's.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx

from ..catalog.model import Provider
from .base import UpstreamFailure
from .upstream import Upstream

__all__ = ["map_transport_errors", "open_stream", "read_error_body", "retry_after_seconds", "read_response"]

MAX_ERROR_BODY = 64 * 1024


@contextmanager
def map_transport_errors(provider: Provider) -> Iterator[None]:
    try:
        yield
    except UpstreamFailure:
        raise
    except httpx.PoolTimeout:
        raise UpstreamFailure("busy", f"all {provider.max_connections} connections to {provider.name} are in use") from None
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise UpstreamFailure("timeout", f"{provider.name} did not answer in time ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise UpstreamFailure("connect", f"{provider.name} connection failed ({type(exc).__name__})") from None


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """`retry-after-ms`, else `Retry-After` as seconds or an HTTP date."""
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(raw) if raw else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


async def read_error_body(response: httpx.Response) -> bytes:
    """At most 64 KiB of an error body: a broken provider cannot make us buffer without bound."""
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) >= MAX_ERROR_BODY:
            break
    return bytes(body[:MAX_ERROR_BODY])


@asynccontextmanager
async def first_byte_deadline(provider: Provider) -> AsyncIterator[None]:
    """Time from sending the request to the first response byte, per the catalog."""
    with map_transport_errors(provider):
        async with asyncio.timeout(provider.timeouts.first_byte_seconds):
            yield


async def open_stream(
    upstream: Upstream,
    request: httpx.Request,
    map_error: Callable[[int, bytes, httpx.Headers], UpstreamFailure],
) -> tuple[httpx.Response, bytes, AsyncIterator[bytes]]:
    """Send, check the status and read the first chunk within the first-byte deadline.

    On success the caller owns `response` (and must close it); on failure it is closed here.
    """
    provider = upstream.provider
    response: httpx.Response | None = None
    try:
        async with first_byte_deadline(provider):
            response = await upstream.send(request)
            if response.status_code >= 400:
                body = await read_error_body(response)
                raise map_error(response.status_code, body, response.headers)
            chunks = response.aiter_raw()
            first = await anext(chunks, b"")
        return response, first, _guarded(chunks, provider)
    except BaseException:
        if response is not None:
            await response.aclose()
        raise


async def read_response(upstream: Upstream, request: httpx.Request) -> httpx.Response:
    """Send and read the whole (JSON-sized) reply, all within the first-byte deadline."""
    async with first_byte_deadline(upstream.provider):
        response = await upstream.send(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
    return response


async def _guarded(chunks: AsyncIterator[bytes], provider: Provider) -> AsyncIterator[bytes]:
    with map_transport_errors(provider):
        async for chunk in chunks:
            yield chunk
