"""`GET /metrics`: Prometheus text format. With client keys configured it needs an admin key
(AUDIO_GATEWAY_ADMIN_KEYS); a scraper without one uses the loopback-only AUDIO_GATEWAY_METRICS_PORT."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.datastructures import State

from ..errors import AuthenticationFailed, GatewayError
from ..observability.listener import CONTENT_TYPE
from ..observability.telemetry import Telemetry, queue_job_counts
from .auth import KeyRing

__all__ = ["metrics", "render_metrics", "AdminKeyRequired"]


class AdminKeyRequired(GatewayError):
    status = 403
    type = "permission_error"

    def __init__(self) -> None:
        super().__init__("GET /metrics needs an admin key (AUDIO_GATEWAY_ADMIN_KEYS), or use the metrics port "
                         "(AUDIO_GATEWAY_METRICS_PORT, loopback only).", code="admin_key_required")


async def render_metrics(state: State) -> bytes:
    """What any scrape gets: this process's circuits refreshed, the queue's job counts read now."""
    telemetry: Telemetry = state.telemetry
    jobs = state.get("jobs")
    counts = queue_job_counts(jobs.runtime.queue) if jobs is not None else None
    return await telemetry.render_metrics(state.gateway.current.breakers.views(), counts)


@get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    keys: KeyRing = request.app.state.key_ring
    if keys:
        key = keys.match(request.headers.get("authorization", ""))
        if key is None:
            raise AuthenticationFailed()
        if not key.admin:
            raise AdminKeyRequired()
    # Litestar adds the charset to a text/* media type itself.
    return Response(await render_metrics(request.app.state), media_type=CONTENT_TYPE.removesuffix("; charset=utf-8"))
