"""The long-lived things jobs need, opened once per process (API server or worker) and closed together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import botocore.exceptions
import msgspec
import redis.exceptions
from saq.queue.redis import RedisQueue

from ..generations import LiveGateway
from ..ledger import DiscardingSink, LedgerRow, RowSink
from ..observability.telemetry import Telemetry
from ..settings import Settings
from .storage import ObjectStore
from .store import JobStore

__all__ = ["JobRuntime", "open_job_runtime", "TASK_NAME", "BACKEND_OUTAGES"]

log = logging.getLogger("audio_gateway.jobs")

TASK_NAME = "run_audio_job"

# What an unreachable Redis or S3 raises: the jobs API answers 503 for these, never 500.
BACKEND_OUTAGES: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
    botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError,
)


class JobRuntime(msgspec.Struct, frozen=True):
    settings: Settings
    gateway: LiveGateway                # the catalog generation current now; a job pins one while it runs
    queue: RedisQueue
    store: JobStore
    objects: ObjectStore
    sink: RowSink = msgspec.field(default_factory=DiscardingSink)   # where job ledger rows go
    telemetry: Telemetry | None = None   # metrics and traces of the jobs this process runs
    settle: Callable[[LedgerRow], None] | None = None   # a job's row settles its key's reservation (limits/settler.py)
    release: Callable[[str], None] | None = None        # a job that ends without a row gives its reservation back


@asynccontextmanager
async def open_job_runtime(settings: Settings, gateway: LiveGateway, sink: RowSink | None = None, *,
                           telemetry: Telemetry | None = None) -> AsyncIterator[JobRuntime]:
    async with AsyncExitStack() as stack:
        assert settings.queue_url is not None  # jobs_enabled
        queue = RedisQueue.from_url(settings.queue_url, name="audio-gateway")
        await queue.connect()
        stack.push_async_callback(_quietly, queue.disconnect, "the job queue")
        objects = await ObjectStore.open(settings, stack)
        store = JobStore(queue.redis, retention_seconds=settings.job_retention_seconds)
        yield JobRuntime(settings=settings, gateway=gateway, queue=queue, store=store, objects=objects,
                         sink=sink or DiscardingSink(), telemetry=telemetry)


async def _quietly(close: Callable[[], Awaitable[None]], what: str) -> None:
    """Closing a connection to a backend that is down must not turn a clean shutdown into a traceback."""
    try:
        await close()
    except BACKEND_OUTAGES as exc:
        log.warning("could not close %s cleanly (%s)", what, exc)
