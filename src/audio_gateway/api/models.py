"""`GET /v1/models[/{id}]`: OpenAI's list/object shape, plus what the catalog knows."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from ..billing import decimal_text
from ..catalog import Model, Plan, TtsModel
from ..errors import NotFound
from .errors import json_response
from .openapi import ModelOperation, ModelsOperation

__all__ = ["list_models", "retrieve_model", "model_object"]


def model_object(model: Model, plan: Plan) -> dict[str, Any]:
    """One entry: the OpenAI Model fields first, then kind, provider, pricing, fallbacks, capabilities."""
    route = plan.routes[model.id]
    caps = {name: getattr(model.capabilities, name) for name in model.capabilities.__struct_fields__}
    entry: dict[str, Any] = {
        "id": model.id,
        "object": "model",
        "created": 0,
        "owned_by": model.provider,
        "kind": model.kind,
        "provider": model.provider,
        "upstream_model": model.upstream_model,
        "description": model.description,
        "aliases": list(model.aliases),
        "strengths": list(model.strengths),
        "pricing": [
            {"unit": c.unit, "price_usd": decimal_text(c.price_usd), "per": c.per,
             **({"rounding": c.rounding, "round_to_seconds": decimal_text(c.round_to_seconds)} if c.unit == "second" else {})}
            for c in model.billing
        ],
        "fallbacks": [target.model.id for target in route.targets[1:]],
        "capabilities": caps,
    }
    if isinstance(model, TtsModel):
        voice_set = plan.voice_sets[model.voices]
        entry["voices"] = {"native": list(voice_set.voices), "default": voice_set.default,
                           "mapped": dict(voice_set.map), "unknown": voice_set.unknown}
    return entry


@get("/models", sync_to_thread=False, operation_class=ModelsOperation)
def list_models(request: Request) -> Response:
    plan: Plan = request.app.state.gateway.plan
    return json_response({"object": "list", "data": [model_object(m, plan) for m in plan.models]})


@get("/models/{model_id:path}", sync_to_thread=False, operation_class=ModelOperation)
def retrieve_model(request: Request, model_id: str) -> Response:
    plan: Plan = request.app.state.gateway.plan
    route = plan.resolve(model_id.lstrip("/"))
    if route is None:
        raise NotFound(f"The model `{model_id.lstrip('/')}` does not exist.", param="model", code="model_not_found")
    return json_response(model_object(route.model, plan))
