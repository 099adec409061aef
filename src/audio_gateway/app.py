"""`create_app(settings, plan)`: wires the Litestar app; no globals, no import-time side effects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware

from . import __version__
from .api.auth import ApiKeyMiddleware, KeyRing
from .api.client_timeout import ClientTimeoutMiddleware
from .api.errors import exception_handlers
from .api.health import healthz, readyz
from .api.jobs import cancel_job, create_job, get_job, list_jobs
from .api.models import list_models, retrieve_model
from .api.openapi import openapi_config
from .api.speech import create_speech
from .api.transcriptions import create_transcription, create_translation
from .api.usage import costs, request_usage, usage_audio_speeches, usage_audio_transcriptions
from .billing import count_tokens
from .catalog import Plan
from .gateway import Gateway
from .jobs.runtime import open_job_runtime
from .jobs.service import JobService
from .ledger.runtime import open_ledger
from .settings import Settings

__all__ = ["create_app"]


def _warm_tokenizers(plan: Plan) -> None:
    """Load BPE tables at start-up so the first gpt-4o-mini-tts request is not slow."""
    for tokenizer in {c.tokenizer for m in plan.models for c in m.billing if c.tokenizer}:
        count_tokens("warm-up", tokenizer)


def create_app(settings: Settings, plan: Plan) -> Litestar:
    _warm_tokenizers(plan)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # The ledger opens first and closes last: rows of requests that finish during shutdown are drained too.
        async with open_ledger(settings) as ledger, \
                Gateway.running(plan, deadline=settings.request_deadline_seconds) as gateway:
            app.state.ledger = ledger
            app.state.gateway = gateway
            if not settings.jobs_enabled:
                app.state.jobs = None
                yield
                return
            async with open_job_runtime(settings, gateway) as runtime:
                app.state.jobs = JobService(runtime)
                yield

    v1 = Router(
        path="/v1",
        middleware=[DefineMiddleware(ApiKeyMiddleware, keys=KeyRing(settings.api_keys))],
        route_handlers=[list_models, retrieve_model, create_speech, create_transcription, create_translation,
                        create_job, get_job, list_jobs, cancel_job,
                        usage_audio_speeches, usage_audio_transcriptions, costs, request_usage],
    )
    return Litestar(
        route_handlers=[healthz, readyz, v1],
        lifespan=[lifespan],
        state=State({"settings": settings}),
        exception_handlers=exception_handlers,
        # RequestContextMiddleware wraps the whole app in serving.py: Litestar's own middleware would miss
        # requests that match no route (404/405), which must carry x-request-id and be logged too.
        middleware=[DefineMiddleware(ClientTimeoutMiddleware, timeout=settings.client_timeout_seconds)],
        openapi_config=openapi_config(__version__),
        request_max_body_size=1024 * 1024,
        logging_config=None,  # the CLI configured logging (AUDIO_GATEWAY_LOG_LEVEL); Litestar's would reset it
    )
