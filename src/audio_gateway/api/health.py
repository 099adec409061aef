"""Liveness and readiness probes (outside /v1, never behind auth)."""

from __future__ import annotations

from litestar import Request, Response, get

from .errors import json_response

__all__ = ["healthz", "readyz"]


@get("/healthz", sync_to_thread=False)
def healthz() -> Response:
    return json_response({"status": "ok"})


@get("/readyz", sync_to_thread=False)
def readyz(request: Request) -> Response:
    """Ready when the catalog is compiled and at least one provider has credentials."""
    plan = request.app.state.gateway.plan
    providers = {name: {"adapter": p.adapter, "configured": p.configured} for name, p in plan.providers.items()}
    ready = any(p.configured for p in plan.providers.values())
    body = {"status": "ready" if ready else "not_ready", "models": len(plan.routes), "providers": providers}
    return json_response(body, 200 if ready else 503)
