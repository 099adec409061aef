"""Request bodies read with their size cap enforced as they stream in, never after.

Litestar enforces `request_max_body_size` the same way (Content-Length first, then bytes received); a
handler that must take large multipart uploads turns that off and caps its JSON branch here instead.
Both answer the same 413 (`request_too_large`, naming the limit), and the serving layer then closes the
connection instead of reading the rest (serving.py).
"""

from __future__ import annotations

from litestar import Request

from ..errors import PayloadTooLarge

__all__ = ["too_large", "read_capped"]


def too_large(limit: int) -> PayloadTooLarge:
    size = f"{limit // (1024 * 1024)} MiB" if limit % (1024 * 1024) == 0 else f"{limit} bytes"
    return PayloadTooLarge(f"The request body is larger than {size}, the most this endpoint accepts.",
                           code="request_too_large")


async def read_capped(request: Request, limit: int) -> bytes:
    """The whole body, or a 413 as soon as the announced length or the bytes received pass `limit`:
    memory held is at most `limit` plus one chunk, whatever the client sends."""
    announced = request.content_length
    if announced is not None and announced > limit:
        raise too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large(limit)
    return bytes(body)
