"""The Catalog page: every model as `/v1/models` describes it, voice sets, providers' settings (never their
keys), the version being served and the last refused reload."""

from __future__ import annotations

from typing import Any

import msgspec

from ..api.models import model_object
from ..catalog.reload import CatalogReloader
from ..gateway import Gateway

__all__ = ["catalog_view"]


def catalog_view(gateway: Gateway, reloader: CatalogReloader | None) -> dict[str, Any]:
    plan = gateway.plan
    failure = reloader.last_failure if reloader is not None else None
    providers = [{"name": name, "adapter": p.adapter, "base_url": p.base_url or None, "enabled": p.enabled,
                  "description": p.description, "timeouts": msgspec.to_builtins(p.timeouts),
                  "max_connections": p.max_connections, "circuit_breaker": msgspec.to_builtins(p.circuit_breaker)}
                 for name, p in plan.providers.items()]
    voice_sets = {name: {"voices": list(v.voices), "default": v.default, "unknown": v.unknown,
                         "map": dict(v.map), "custom_voice_ids": v.custom_voice_ids, "description": v.description}
                  for name, v in plan.voice_sets.items()}
    return {
        "object": "console.catalog",
        "version": gateway.version or None,
        "loaded_at": int(gateway.loaded_at.timestamp()) if gateway.loaded_at else None,
        "reloadable": reloader is not None,
        "reloads": reloader.reloads if reloader is not None else 0,
        "reload_error": ({"at": int(failure.at.timestamp()), "trigger": failure.trigger,
                          "problems": list(failure.problems)} if failure is not None else None),
        "models": [model_object(m, plan) for m in plan.models],
        "voice_sets": voice_sets,
        "providers": providers,
    }
