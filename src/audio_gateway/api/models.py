"""`GET /v1/models[/{id}]`: OpenAI's list/object shape, plus what the catalog knows."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from ..billing import UNITS, Unit, decimal_text
from ..catalog import BillingComponent, Model, Plan, TtsModel
from ..errors import NotFound
from .errors import json_response
from .openapi import ModelOperation, ModelsOperation
from .pinning import gateway_of

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
        "pricing": [_price(c) for c in model.billing],
        "fallbacks": [target.model.id for target in route.targets[1:]],
        "capabilities": caps,
    }
    if isinstance(model, TtsModel):
        voice_set = plan.voice_sets[model.voices]
        entry["voices"] = {"native": list(voice_set.voices), "default": voice_set.default,
                           "mapped": dict(voice_set.map), "unknown": voice_set.unknown}
    return entry


def _price(component: BillingComponent) -> dict[str, Any]:
    """One billing component as the registry describes it: unit, label, price, and how it is measured."""
    spec = UNITS[component.unit]
    entry: dict[str, Any] = {"unit": str(component.unit), "price_usd": decimal_text(component.price_usd),
                             "per": component.per, "label": spec.label}
    if component.unit == Unit.SECOND:
        entry |= {"rounding": component.rounding, "round_to_seconds": decimal_text(component.round_to_seconds)}
    if component.estimate is not None:
        entry["estimate"] = {"from": str(component.estimate.from_), "ratio": decimal_text(component.estimate.ratio)}
    return entry


@get("/models", sync_to_thread=False, operation_class=ModelsOperation)
def list_models(request: Request) -> Response:
    plan: Plan = gateway_of(request).plan
    return json_response({"object": "list", "data": [model_object(m, plan) for m in plan.models]})


@get("/models/{model_id:path}", sync_to_thread=False, operation_class=ModelOperation)
def retrieve_model(request: Request, model_id: str) -> Response:
    plan: Plan = gateway_of(request).plan
    route = plan.resolve(model_id.lstrip("/"))
    if route is None:
        raise NotFound(f"The model `{model_id.lstrip('/')}` does not exist.", param="model", code="model_not_found")
    return json_response(model_object(route.model, plan))
