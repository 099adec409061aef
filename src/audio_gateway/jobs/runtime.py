"""The long-lived things jobs need, opened once per process (API server or worker) and closed together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import msgspec
from saq import Queue

from ..gateway import Gateway
from ..settings import Settings
from .storage import ObjectStore
from .store import JobStore

__all__ = ["JobRuntime", "open_job_runtime", "TASK_NAME"]

TASK_NAME = "run_audio_job"


class JobRuntime(msgspec.Struct, frozen=True):
    settings: Settings
    gateway: Gateway
    queue: Queue
    store: JobStore
    objects: ObjectStore


@asynccontextmanager
async def open_job_runtime(settings: Settings, gateway: Gateway) -> AsyncIterator[JobRuntime]:
    async with AsyncExitStack() as stack:
        queue = Queue.from_url(settings.queue_url, name="audio-gateway")
        await queue.connect()
        stack.push_async_callback(queue.disconnect)
        objects = await ObjectStore.open(settings, stack)
        store = JobStore(queue.redis, retention_seconds=settings.job_retention_seconds)
        yield JobRuntime(settings=settings, gateway=gateway, queue=queue, store=store, objects=objects)
