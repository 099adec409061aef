"""What one `audio-gateway worker` process opens at start-up, and closes at its end.

The ledger (a job's row goes there when it ends), the live gateway (catalog generations, reloaded on
SIGHUP), its telemetry, the job runtime (Redis, S3), the limit store jobs' reservations are settled in
(with AUDIO_GATEWAY_REDIS_URL) and, with `--metrics-port`, the loopback listener that serves this worker's metrics together with
the queue's job counts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import msgspec

from ..catalog import LoadedCatalog
from ..catalog.reload import CatalogReloader, CatalogSource
from ..generations import LiveGateway
from ..ledger.runtime import open_ledger, utc_now
from ..limits import LimitStore
from ..limits.guard import Limiter
from ..limits.settler import open_settler
from ..observability.listener import LOOPBACK, metrics_listener
from ..observability.telemetry import Telemetry, queue_job_counts
from ..settings import Settings
from .runtime import JobRuntime, open_job_runtime

__all__ = ["WorkerOptions", "open_worker_process"]


class WorkerOptions(msgspec.Struct, frozen=True, kw_only=True):
    source: CatalogSource | None = None   # reloadable catalog (on SIGHUP, when `reload_on_sighup`)
    reload_on_sighup: bool = False
    metrics_port: int | None = None       # serve /metrics on this loopback port (0: any free port)
    metrics_host: str = LOOPBACK


@asynccontextmanager
async def open_worker_process(settings: Settings, catalog: LoadedCatalog, telemetry: Telemetry,
                              options: WorkerOptions) -> AsyncIterator[JobRuntime]:
    async with AsyncExitStack() as stack:
        # The ledger opens first and closes last: a job's row, written when it ends, is drained at shutdown.
        ledger = await stack.enter_async_context(open_ledger(settings))
        live = await stack.enter_async_context(LiveGateway.running(
            catalog, deadline=settings.request_deadline_seconds, observer=telemetry.attempt_observer(),
            listener=telemetry.generation_changed))
        await stack.enter_async_context(telemetry.running(live.circuit_views))
        if options.source is not None:
            reloader = CatalogReloader(options.source, live.swap, lambda: live.version)
            await stack.enter_async_context(reloader.running(sighup=options.reload_on_sighup))
        runtime = await stack.enter_async_context(open_job_runtime(settings, live, ledger.sink, telemetry=telemetry))
        if settings.limits_url:   # jobs admitted on a key's budget are settled here, in the shared limit store
            limits = LimitStore.from_url(settings.limits_url)
            stack.push_async_callback(limits.close)
            settler = await stack.enter_async_context(open_settler(Limiter(limits, ledger.store.spend_since,
                                                                           clock=utc_now)))
            runtime = msgspec.structs.replace(runtime, settle=settler.row, release=settler.release)
        if options.metrics_port is not None and telemetry.metrics is not None:
            counts = queue_job_counts(runtime.queue)
            await stack.enter_async_context(metrics_listener(
                lambda: telemetry.render_metrics(live.circuit_views(), counts),
                port=options.metrics_port, host=options.metrics_host))
        yield runtime
