"""Limit store tests run against both backends: this process's memory, and a real redis-server."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from audio_gateway.limits import LimitStore

_DBS = itertools.count(1)


@pytest.fixture(params=["memory", "redis"])
def store_url(request) -> str:
    """A fresh store each test: a new Redis database number (flushed) or a new in-process store."""
    if request.param == "memory":
        return "memory"
    url = request.getfixturevalue("redis_server").url(next(_DBS) % 16)

    async def flush() -> None:
        store = LimitStore.from_url(url)
        await store._redis.flushdb()  # type: ignore[attr-defined]
        await store.close()

    asyncio.run(flush())
    return url
