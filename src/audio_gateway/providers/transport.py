"""HTTP mechanics under `runner.HttpAdapter`: deadlines, transport errors, bounded bodies, Retry-After.

`map_transport_errors()` is the single place where httpx exceptions become
`UpstreamFailure`, the way httpx itself maps httpcore's.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx

from ..catalog.model import Provider
from .failures import FailureKind, UpstreamFailure

__all__ = ["map_transport_errors", "retry_after_seconds", "read_bounded", "first_byte_deadline", "guarded"]


@contextmanager
def map_transport_errors(provider: Provider) -> Iterator[None]:
    try:
        yield
    except UpstreamFailure:
        raise
    except httpx.PoolTimeout:
        raise UpstreamFailure(FailureKind.BUSY, f"all {provider.max_connections} connections to {provider.name} are in use") from None
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise UpstreamFailure(FailureKind.TIMEOUT, f"{provider.name} did not answer in time ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise UpstreamFailure(FailureKind.CONNECT, f"{provider.name} connection failed ({type(exc).__name__})") from None


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


async def read_bounded(response: httpx.Response, limit: int, *, truncate: bool = False) -> bytes:
    """At most `limit` bytes of a body: a broken provider cannot make us buffer without bound.

    `truncate` keeps the first `limit` bytes (an error body, read for its message); otherwise a longer
    body is malformed (a transcript that size is not a transcript)."""
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > limit:
            if truncate:
                break
            raise UpstreamFailure(FailureKind.MALFORMED, f"the answer is larger than {limit} bytes")
    return bytes(body[:limit])


@asynccontextmanager
async def first_byte_deadline(provider: Provider) -> AsyncIterator[None]:
    """Time from sending the request to the first response byte, per the catalog."""
    with map_transport_errors(provider):
        async with asyncio.timeout(provider.timeouts.first_byte_seconds):
            yield


async def guarded(chunks: AsyncIterator[bytes], provider: Provider) -> AsyncIterator[bytes]:
    """A body stream whose transport errors become `UpstreamFailure`s (a cut mid-stream says so)."""
    with map_transport_errors(provider):
        async for chunk in chunks:
            yield chunk
