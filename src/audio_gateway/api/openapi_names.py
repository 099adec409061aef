"""The OpenAPI document's model and voice names, taken from the catalog being served.

The operation schemas (openapi.py) mark where catalog names belong with `x-catalog: <vocabulary>`;
`CatalogJsonRenderPlugin` fills those enums from the app's current plan each time the document is
served, so the document lists exactly what the gateway serves (and follows a catalog reload).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin

from ..catalog import Plan, SttModel, TtsModel

__all__ = ["CatalogJsonRenderPlugin", "catalog_names", "vocabularies", "MARK"]

MARK = "x-catalog"


def catalog_names(vocabulary: str) -> dict[str, Any]:
    """Any string, the catalog's names listed (OpenAI's spec does the same for `model` and `voice`)."""
    return {"anyOf": [{"type": "string"}, {"type": "string", "enum": [], MARK: vocabulary}]}


def vocabularies(plan: Plan) -> dict[str, list[str]]:
    tts = [m for m in plan.models if isinstance(m, TtsModel)]
    stt = [m for m in plan.models if isinstance(m, SttModel)]
    voices: dict[str, None] = {}
    for model in tts:
        voice_set = plan.voice_sets[model.voices]
        voices.update(dict.fromkeys((*voice_set.voices, *voice_set.map)))

    def names(models: list[Any]) -> list[str]:
        return [name for m in models for name in (*m.aliases, m.id)]

    return {"tts-models": names(tts), "stt-models": names(stt),
            "translation-models": names([m for m in stt if m.capabilities.translation]), "voices": list(voices)}


def _fill(node: Any, names: Mapping[str, list[str]]) -> Any:
    if isinstance(node, dict):
        if MARK in node:
            return {k: v for k, v in node.items() if k != MARK} | {"enum": names.get(node[MARK], [])}
        return {k: _fill(v, names) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, names) for v in node]
    return node


class CatalogJsonRenderPlugin(JsonRenderPlugin):
    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        gateway = request.app.state.get("gateway")
        names = vocabularies(gateway.plan) if gateway is not None else {}
        return self.render_json(request, _fill(openapi_schema, names))
