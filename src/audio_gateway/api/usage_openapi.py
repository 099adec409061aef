"""OpenAPI description of the usage endpoints (parameters are read by hand, so Litestar cannot see them)."""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import Operation

from ..ledger.report import BUCKET_WIDTHS, REPORTS
from .openapi import _operation

__all__ = ["UsageOperation", "CostsOperation", "RequestUsageOperation"]

_LATEST = 253402300799


def _array(name: str, description: str, enum: tuple[str, ...] | None = None) -> dict[str, Any]:
    items: dict[str, Any] = {"type": "string", **({"enum": list(enum)} if enum else {})}
    return {"name": name, "in": "query", "required": False, "style": "form", "explode": True,
            "description": description, "schema": {"type": "array", "items": items}}


def _parameters(group_by: tuple[str, ...], limit_max: int, default_limit: int) -> list[dict[str, Any]]:
    seconds = {"type": "integer", "minimum": 0, "maximum": _LATEST}
    return [
        {"name": "start_time", "in": "query", "required": True, "schema": seconds,
         "description": "Start of the range (Unix seconds), inclusive; buckets start here."},
        {"name": "end_time", "in": "query", "required": False, "schema": seconds,
         "description": "End of the range (Unix seconds), exclusive; default now."},
        {"name": "bucket_width", "in": "query", "required": False,
         "schema": {"type": "string", "enum": list(BUCKET_WIDTHS), "default": "1d"}},
        _array("group_by", "Group results by these fields.", group_by),
        _array("models", "Only these models (the model that served)."),
        _array("api_key_ids", "Only these keys (key names). An ordinary key may name only itself."),
        _array("project_ids", "Accepted for compatibility; the gateway has no projects, so nothing matches."),
        _array("user_ids", "Accepted for compatibility; the gateway has no users, so nothing matches."),
        {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": limit_max, "default": default_limit},
         "description": "Buckets per page (usage: 1d ≤ 31, 1h ≤ 168, 1m ≤ 1440; costs ≤ 180)."},
        {"name": "page", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "The `next_page` cursor of the previous page."},
    ]


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


_RESULT = {
    "type": "object",
    "required": ["object"],
    "properties": {
        "object": {"enum": ["organization.usage.audio_speeches.result", "organization.usage.audio_transcriptions.result",
                            "organization.costs.result"]},
        "characters": {"type": "integer"}, "seconds": {"type": "integer"}, "num_model_requests": {"type": "integer"},
        "amount": {"type": "object", "properties": {"value": {"type": "number"}, "currency": {"type": "string"}}},
        "line_item": _nullable("string"), "quantity": _nullable("number"), "quantity_unit": _nullable("string"),
        "project_id": _nullable("string"), "user_id": _nullable("string"), "api_key_id": _nullable("string"),
        "model": _nullable("string"), "provider": _nullable("string"), "cost_usd": {"type": "string"},
        "audio_seconds": {"type": "string"},
    },
}
_PAGE = {
    "type": "object",
    "required": ["object", "data", "has_more", "next_page"],
    "properties": {
        "object": {"const": "page"},
        "data": {"type": "array", "items": {
            "type": "object", "required": ["object", "start_time", "end_time", "results"],
            "properties": {"object": {"const": "bucket"}, "start_time": {"type": "integer"},
                           "end_time": {"type": "integer"}, "results": {"type": "array", "items": _RESULT}}}},
        "has_more": {"type": "boolean"},
        "next_page": _nullable("string"),
    },
}
_ROW = {"type": "object", "required": ["object", "id", "created_at", "cost_usd", "lines", "attempt_outcomes"],
        "properties": {"object": {"const": "ledger.row"}, "id": {"type": "string"}, "created_at": {"type": "integer"},
                       "cost_usd": {"type": "string"}, "lines": {"type": "array"},
                       "attempt_outcomes": {"type": "array"}}}
_ERRORS = ("400", "401", "403", "503")

UsageOperation: type[Operation] = _operation(
    success=("200", "Usage per time bucket, in OpenAI's UsageResponse shape.", {"application/json": _PAGE}),
    errors=_ERRORS, parameters=_parameters(REPORTS["audio_speeches"].group_by, 1440, 7))
CostsOperation: type[Operation] = _operation(
    success=("200", "Costs per time bucket (exact decimals), in OpenAI's shape.", {"application/json": _PAGE}),
    errors=_ERRORS, parameters=_parameters(REPORTS["costs"].group_by, 180, 7))
RequestUsageOperation: type[Operation] = _operation(
    success=("200", "The ledger row of one request (its x-request-id) or job.", {"application/json": _ROW}),
    errors=("401", "404", "503"))
