"""Liveness and readiness probes (outside /v1, never behind auth)."""

from __future__ import annotations

import msgspec
from litestar import Request, Response, get

from ..gateway import Gateway
from .errors import json_response
from .pinning import gateway_of

__all__ = ["healthz", "readyz"]


@get("/healthz", sync_to_thread=False)
def healthz() -> Response:
    return json_response({"status": "ok"})


async def _jobs_status(request: Request) -> dict | None:
    service = request.app.state.get("jobs")
    if service is None:
        return None
    runtime = service.runtime
    try:
        queue_ok = bool(await runtime.queue.redis.ping())
    except Exception:  # readiness reports, it never raises
        queue_ok = False
    return {"queue": queue_ok, "storage": await runtime.objects.ready()}


def _catalog_status(request: Request, gateway: Gateway) -> dict:
    """The catalog being served (content hash, when it was compiled) and the last refused reload, if any."""
    reloader = request.app.state.get("reloader")
    failure = reloader.last_failure if reloader is not None else None
    return {"version": gateway.version or None,
            "loaded_at": gateway.loaded_at.isoformat() if gateway.loaded_at else None,
            "reload_error": msgspec.to_builtins(failure) if failure is not None else None}


@get("/readyz")
async def readyz(request: Request) -> Response:
    """Ready when the catalog is compiled, a provider is configured (a key, or local engines installed), and
    (if configured) Redis and S3 answer. A provider that is not configured says why (`reason`).

    Open circuit breakers are reported, not failed on: every replica sees the same providers, so taking
    this one out of a load balancer would not help; `degraded` tells a human what is going on. So is a
    refused catalog reload: the previous catalog keeps serving, and `catalog.reload_error` says why.
    """
    gateway = gateway_of(request)
    plan = gateway.plan
    circuits = gateway.breakers.views()
    unavailable = gateway.unavailable
    providers = {}
    for name, p in plan.providers.items():
        entry: dict = {"adapter": p.adapter, "configured": name not in unavailable,
                       "circuit": msgspec.structs.asdict(circuits[name])}
        if name in unavailable:
            entry["reason"] = unavailable[name]
        providers[name] = entry
    ready = any(name not in unavailable for name in plan.providers)
    catalog = _catalog_status(request, gateway)
    degraded = any(c.state != "closed" for c in circuits.values()) or catalog["reload_error"] is not None
    body = {"status": "", "models": len(plan.routes), "catalog": catalog, "providers": providers}
    jobs = await _jobs_status(request)
    if jobs is not None:
        body["jobs"] = jobs
        ready = ready and all(jobs.values())
    body["status"] = ("degraded" if degraded else "ready") if ready else "not_ready"
    return json_response(body, 200 if ready else 503)
