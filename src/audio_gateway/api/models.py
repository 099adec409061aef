"""`GET /v1/models[/{id}]`: OpenAI's list/object shape, plus what the catalog knows."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get

from ..billing import UNITS, Unit, decimal_text
from ..catalog import BillingComponent, Model, Plan, Route, TtsModel
from ..catalog.routing import rule_name
from ..errors import NotFound
from .admission import check_model
from .auth import client_key
from .errors import json_response
from .openapi import ModelOperation, ModelsOperation
from .pinning import gateway_of

__all__ = ["list_models", "retrieve_model", "model_object"]


def model_object(model: Model, plan: Plan) -> dict[str, Any]:
    """One entry: the OpenAI Model fields first, then kind, provider, pricing, fallbacks, routing, capabilities.

    A virtual model (`auto`) is owned by the gateway, has no provider, upstream model or price of its
    own, lists every target as a fallback, and shows capabilities derived from its targets."""
    route = plan.routes[model.id]
    caps = {name: getattr(model.capabilities, name) for name in model.capabilities.__struct_fields__}
    entry: dict[str, Any] = {
        "id": model.id,
        "object": "model",
        "created": 0,
        "owned_by": model.provider or "gateway",
        "kind": model.kind,
        "provider": model.provider or None,
        "upstream_model": model.upstream_model or None,
        "description": model.description,
        "aliases": list(model.aliases),
        "strengths": list(model.strengths),
        "pricing": [_price(c) for c in model.billing],
        "fallbacks": [target.model.id for target in (route.targets if model.virtual else route.targets[1:])],
        "virtual": model.virtual,
        "routing": _routing(route),
        "capabilities": caps,
    }
    if isinstance(model, TtsModel):
        voice_set = plan.voice_sets[model.voices]
        entry["voices"] = {"native": list(voice_set.voices), "default": voice_set.default,
                           "mapped": dict(voice_set.map), "unknown": voice_set.unknown}
    return entry


def _routing(route: Route) -> dict[str, Any]:
    """The policy as the catalog declares it; `rule` is what `x-gateway-route` says when the rule chose."""
    spec = route.model.routing
    plan = route.routing
    if spec is None or plan is None:
        return {"policy": "chain", "content": [], "targets": [t.model.id for t in route.targets], "then": []}
    entry: dict[str, Any] = {
        "policy": spec.policy,
        "content": [{"rule": f"content:{rule_name(rule)}",
                     **{k: v for k, v in msgspec.to_builtins(rule).items() if v is not None and k != "name"}}
                    for rule in spec.content],
        "targets": [t.model.id for t in plan.candidates],
        "then": [t.model.id for t in plan.tail],
    }
    if spec.policy == "weighted":
        entry["weights"] = dict(spec.weights)
    if spec.policy == "fastest":
        entry["min_samples"] = spec.min_samples
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
    key = client_key(request)
    limits = key.limits if key is not None else None   # a key limited to some models sees only those
    models = [m for m in plan.models if limits is None or limits.allows(m.id)]
    return json_response({"object": "list", "data": [model_object(m, plan) for m in models]})


@get("/models/{model_id:path}", sync_to_thread=False, operation_class=ModelOperation)
def retrieve_model(request: Request, model_id: str) -> Response:
    plan: Plan = gateway_of(request).plan
    route = plan.resolve(model_id.lstrip("/"))
    if route is None:
        raise NotFound(f"The model `{model_id.lstrip('/')}` does not exist.", param="model", code="model_not_found")
    check_model(request, route)
    return json_response(model_object(route.model, plan))
