"""`create_app(settings, plan)`: wires the Litestar app; no globals, no import-time side effects."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware

from . import __version__
from .api.auth import ApiKeyMiddleware, KeyRing
from .api.client_timeout import ClientTimeoutMiddleware
from .api.errors import exception_handlers
from .api.handler_memo import memoize_exception_handlers
from .api.health import healthz, readyz
from .api.jobs import cancel_job, create_job, get_job, list_jobs
from .api.keys import KEY_ROUTES
from .api.metrics import metrics, render_metrics
from .api.models import list_models, retrieve_model
from .api.openapi import openapi_config
from .api.pinning import PinGenerationMiddleware
from .api.speech import create_speech
from .api.transcriptions import create_transcription, create_translation
from .api.usage import costs, request_usage, usage_audio_speeches, usage_audio_transcriptions
from .billing import count_tokens
from .catalog import LoadedCatalog, Plan
from .catalog.reload import CatalogReloader, CatalogSource
from .console import console_router, session_codec
from .generations import LiveGateway
from .heap import freeze_startup_heap
from .jobs.runtime import open_job_runtime
from .jobs.service import JobService
from .keys.admin import KeyAdmin
from .keys.cache import KeyCache
from .keys.store import KeyStore
from .ledger.runtime import open_ledger
from .limits import LimitStore
from .limits.guard import Limiter
from .observability.listener import metrics_listener
from .observability.middleware import ObservabilityMiddleware
from .observability.telemetry import Telemetry
from .settings import Settings

__all__ = ["create_app"]


def _warm_tokenizers(plan: Plan) -> None:
    """Load BPE tables at start-up so the first gpt-4o-mini-tts request is not slow."""
    for tokenizer in {c.tokenizer for m in plan.models for c in m.billing if c.tokenizer}:
        count_tokens("warm-up", tokenizer)


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def _open_keys(app: Litestar, stack: AsyncExitStack, settings: Settings, ring: KeyRing, live: LiveGateway,
                     telemetry: Telemetry, clock: Callable[[], datetime]) -> None:
    """Database keys (in the ledger's database), the limit store (Redis or this process) and the limiter."""
    ledger = app.state.ledger.store
    store = KeyStore(ledger.engine)
    cache = await stack.enter_async_context(
        KeyCache(store, settings.secret_key, poll_seconds=settings.keys_poll_seconds).running())
    limits = LimitStore.from_url(settings.limits_url)
    stack.push_async_callback(limits.close)
    metrics = telemetry.metrics

    def warned(name: str, period: str) -> None:
        if metrics is not None:
            metrics.budget_warnings(name, period).inc()

    limiter = Limiter(limits, ledger.spend_since, clock=clock, on_warning=warned,
                      hold_seconds=max(900.0, 2 * settings.request_deadline_seconds))
    ring.attach(cache, limiter)
    app.state.limiter = limiter

    def resolve(name: str) -> str | None:
        route = live.plan.resolve(name)
        return route.model.id if route is not None else None

    app.state.key_admin = KeyAdmin(store, ledger, resolve=resolve, reserved=ring.env_names, clock=clock)


def create_app(settings: Settings, plan: Plan | LoadedCatalog, *, source: CatalogSource | None = None,
               telemetry: Telemetry | None = None, reload_on_sighup: bool = False, watch: bool = False,
               metrics_socket: socket.socket | None = None, clock: Callable[[], datetime] | None = None,
               freeze_heap: bool = False) -> Litestar:
    """`source` makes the catalog reloadable (`app.state.reloader`; SIGHUP with `reload_on_sighup`, file
    changes with `watch`). `telemetry` is made here unless the caller made it (prefork: before forking;
    tests: with an in-memory span exporter). `metrics_socket`: the metrics port, bound by a prefork parent.
    `clock`: "now" for budgets and rate limits (tests move it instead of sleeping through a minute).
    `freeze_heap`: once started, freeze the start-up heap out of the collector's way (`heap.py`; the CLI's
    serving processes, not tests that build many apps in one process)."""
    catalog = plan if isinstance(plan, LoadedCatalog) else LoadedCatalog(plan=plan, version="unversioned",
                                                                          loaded_at=datetime.now(UTC))
    _warm_tokenizers(catalog.plan)
    telemetry = telemetry or Telemetry(settings)
    live = LiveGateway(catalog, deadline=settings.request_deadline_seconds, observer=telemetry.attempt_observer(),
                       listener=telemetry.generation_changed)
    reloader = CatalogReloader(source, live.swap, lambda: live.version) if source is not None else None
    keys = KeyRing(settings.api_keys)
    codec = session_codec(settings.secret_key)
    metrics_port = metrics_socket is not None or settings.metrics_port is not None

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # The ledger opens first and closes last: rows of requests that finish during shutdown are drained too.
            app.state.ledger = await stack.enter_async_context(open_ledger(settings))
            await _open_keys(app, stack, settings, keys, live, telemetry, clock or _utc_now)
            await stack.enter_async_context(live.serving())
            await stack.enter_async_context(telemetry.running(live.circuit_views))
            if reloader is not None:
                await stack.enter_async_context(reloader.running(sighup=reload_on_sighup, watch=watch))
            app.state.jobs = None
            if settings.jobs_enabled:
                runtime = await stack.enter_async_context(open_job_runtime(settings, live, telemetry=telemetry))
                app.state.jobs = JobService(runtime)
            if metrics_port and telemetry.metrics is not None:
                await stack.enter_async_context(metrics_listener(
                    lambda: render_metrics(app.state), sock=metrics_socket, port=settings.metrics_port or 0))
            if freeze_heap:
                freeze_startup_heap()
            yield

    v1 = Router(
        path="/v1",
        middleware=[DefineMiddleware(ApiKeyMiddleware, keys=keys)],
        route_handlers=[list_models, retrieve_model, create_speech, create_transcription, create_translation,
                        create_job, get_job, list_jobs, cancel_job, *KEY_ROUTES,
                        usage_audio_speeches, usage_audio_transcriptions, costs, request_usage],
    )
    extra_routes = [metrics] if telemetry.metrics is not None else []
    # App-level, not on the /v1 router: Litestar deep-copies routers, and these hold the one live gateway
    # and the process's telemetry. Observation is for /v1 requests only (it checks the path).
    observing = [DefineMiddleware(ObservabilityMiddleware, telemetry=telemetry)] if telemetry.active else []
    app = Litestar(
        route_handlers=[healthz, readyz, *extra_routes, v1, console_router(keys, codec)],
        lifespan=[lifespan],
        state=State({"settings": settings, "gateway": live, "telemetry": telemetry, "reloader": reloader,
                     "key_ring": keys, "console_codec": codec}),
        exception_handlers=exception_handlers,
        # RequestContextMiddleware wraps the whole app in serving.py: Litestar's own middleware would miss
        # requests that match no route (404/405), which must carry x-request-id and be logged too.
        middleware=[*observing, DefineMiddleware(PinGenerationMiddleware, gateway=live),
                    DefineMiddleware(ClientTimeoutMiddleware, timeout=settings.client_timeout_seconds)],
        openapi_config=openapi_config(__version__),
        request_max_body_size=1024 * 1024,
        logging_config=None,  # the CLI configured logging (AUDIO_GATEWAY_LOG_LEVEL); Litestar's would reset it
    )
    memoize_exception_handlers(app)
    return app
