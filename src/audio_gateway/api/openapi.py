"""The OpenAPI document's missing half: bodies the handlers read themselves, and OpenAI's error shape.

The audio and job handlers decode their own bodies (streamed multipart, msgspec with OpenAI-style
400s), so Litestar cannot see them, and it describes errors in its own `{"status_code", "detail"}`
shape, which the gateway never sends. Each handler names an operation class from here; JSON bodies
are generated from the msgspec Structs the handlers decode, so the document cannot drift from them.
Clients (and the schemathesis fuzz test) get real request bodies and the real error body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, Operation, SecurityScheme

from ..audio import DIARIZED_JSON, RESPONSE_FORMATS
from ..jobs.service import FileUrlJob
from ..keys.spec import KeyCreate, KeyPatch
from ..routing.fallback import Attempt
from ..speech import SpeechRequest
from .openapi_names import CatalogJsonRenderPlugin, catalog_names

__all__ = [
    "openapi_config", "SpeechOperation", "TranscriptionOperation", "TranslationOperation", "ModelsOperation",
    "ModelOperation", "CreateJobOperation", "JobOperation", "ListJobsOperation", "ERROR_SCHEMA",
    "CreateKeyOperation", "ListKeysOperation", "KeyOperation", "UpdateKeyOperation", "DeleteKeyOperation", "KEY_SCHEMA",
]


def json_schema(type_: Any) -> dict[str, Any]:
    """msgspec's JSON Schema for `type_` with its `$defs` inlined (no body here is recursive)."""
    schema = msgspec.json.schema(type_)
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[1]])
            return {k: inline(v) for k, v in node.items() if not (k == "default" and v is None)}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(schema)


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {"error": {
        "type": "object",
        "required": ["message", "type", "param", "code"],
        "additionalProperties": False,
        "properties": {
            "message": {"type": "string"},
            "type": {"type": "string"},
            "param": {"type": ["string", "null"]},
            "code": {"type": ["string", "null"]},
            "attempts": {"type": "array", "items": json_schema(Attempt),
                         "description": "502/503/504 only: each provider tried, in order, and why it failed."},
        },
    }},
}

_ERROR_TEXT = {
    "400": "Invalid request; `error.param` names the field.",
    "401": "Missing or invalid API key.",
    "403": "The key may not do that: use a model outside its allow-list (`model_not_allowed`), read another key's "
           "usage, manage keys without being an admin key, or name in `file_url` another key's job object or a "
           "prefix not allowed.",
    "404": "Unknown model or job.",
    "409": "Idempotency-Key reused with a different body, or the job already finished.",
    "413": "Request body or uploaded file too large.",
    "429": "The key's budget for this period is spent (`insufficient_quota`), or one of its rate limits is reached "
           "(`rate_limit_exceeded`, with Retry-After).",
    "4XX": "The provider refused the input itself; its status and message are passed through.",
    "502": "Every provider failed; `error.attempts` lists each attempt.",
    "503": "No provider (or feature) is available.",
    "504": "Every provider timed out.",
}
_AUDIO_ERRORS = ("400", "401", "403", "404", "413", "429", "4XX", "502", "503", "504")



def _speech_body() -> dict[str, Any]:
    schema = json_schema(SpeechRequest)
    properties = schema["properties"]
    properties["model"] = catalog_names("tts-models")
    properties["voice"] = {"anyOf": [catalog_names("voices"), properties["voice"]["anyOf"][1]]}
    properties["input"] = {"type": "string", "minLength": 1,
                           "description": "Not blank; at most the model's max_input_chars (see /v1/models)."}
    properties["speed"] = {"anyOf": [{"type": "number", "minimum": 0.25, "maximum": 4.0}, {"type": "null"}]}
    return schema


def _transcription_form(*, translate: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "file": {"type": "string", "format": "binary",
                 "description": "flac, m4a, mp3, mp4, mpeg, mpga, oga, ogg, wav or webm."},
        "model": catalog_names("translation-models" if translate else "stt-models"),
        "prompt": {"type": "string"},
        "response_format": {"type": "string", "enum": list(RESPONSE_FORMATS) + ([] if translate else [DIARIZED_JSON]),
                            "default": "json"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
    }
    if not translate:
        properties |= {
            "language": {"type": "string", "description": "ISO-639-1 code, e.g. `en`."},
            "timestamp_granularities[]": {"type": "array", "items": {"type": "string", "enum": ["word", "segment"]}},
            "stream": {"type": "boolean", "default": False,
                       "description": "Transcript events (text/event-stream) from every model."},
            "include[]": {"type": "array", "items": {"type": "string", "enum": ["logprobs"]}},
            "chunking_strategy": {"type": "string", "description": "`auto`, or a server_vad object as JSON text "
                                  "or as chunking_strategy[type], [threshold], [prefix_padding_ms], "
                                  "[silence_duration_ms] parts."},
            "known_speaker_names[]": {"type": "array", "maxItems": 4, "items": {"type": "string"}},
            "known_speaker_references[]": {"type": "array", "maxItems": 4,
                                           "items": {"type": "string", "description": "A data URL of 2-10 s of audio."}},
        }
    return {"type": "object", "required": ["file", "model"], "properties": properties}


def _file_url_body() -> dict[str, Any]:
    schema = json_schema(FileUrlJob)
    schema["properties"]["model"] = catalog_names("stt-models")
    schema["properties"]["file_url"] = {"type": "string", "format": "uri",
                                        "description": "https:// (public hosts only), or s3:// in the gateway's bucket naming your "
                                                       "own job input or result, or a prefix the operator allows."}
    return schema


_TRANSCRIPT = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}},
               "description": "json / verbose_json; text, srt and vtt come as text/plain."}
_JOB = {
    "type": "object",
    "required": ["id", "object", "status", "model", "kind", "created_at"],
    "properties": {
        "id": {"type": "string"}, "object": {"const": "job"},
        "status": {"enum": ["queued", "in_progress", "completed", "failed", "cancelled"]},
        "model": {"type": "string"}, "kind": {"enum": ["tts", "stt"]}, "created_at": {"type": "integer"},
        "completed_at": {"type": ["integer", "null"]}, "progress": {"type": "number"},
        "result": {"type": ["object", "null"]}, "usage": {"type": ["object", "null"]}, "error": {"type": ["object", "null"]},
    },
}
_MODEL = {"type": "object", "required": ["id", "object", "created", "owned_by"],
          "properties": {"id": {"type": "string"}, "object": {"const": "model"}, "created": {"type": "integer"},
                         "owned_by": {"type": "string"}, "kind": {"enum": ["tts", "stt"]}}}
_NULLABLE_INT = {"type": ["integer", "null"]}
KEY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["object", "name", "admin", "models", "budget_usd", "budget_period", "rpm", "characters_per_minute",
                 "audio_seconds_per_minute", "created_at", "last_used_at", "spend_usd", "period_start", "resets_at"],
    "properties": {
        "object": {"const": "gateway.key"}, "name": {"type": "string"}, "admin": {"type": "boolean"},
        "models": {"type": ["array", "null"], "items": {"type": "string"}},
        "budget_usd": {"type": ["string", "null"]}, "budget_period": {"enum": ["day", "week", "month", "total", None]},
        "rpm": _NULLABLE_INT, "characters_per_minute": _NULLABLE_INT, "audio_seconds_per_minute": _NULLABLE_INT,
        "created_at": {"type": "string"}, "last_used_at": {"type": ["string", "null"]},
        "spend_usd": {"type": "string"}, "period_start": {"type": "string"}, "resets_at": {"type": ["string", "null"]},
        "secret": {"type": "string", "description": "Only in the answer to POST."},
    },
}
_SPEECH_TYPES = ("audio/mpeg", "audio/opus", "audio/aac", "audio/flac", "audio/wav", "audio/pcm", "text/event-stream")


def _content(schemas: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    return {media: {"schema": schema} for media, schema in schemas.items()}


def _operation(*, body: Mapping[str, dict[str, Any]] | None = None, success: tuple[str, str, Mapping[str, dict]],
               errors: Sequence[str], parameters: Sequence[dict[str, Any]] = ()) -> type[Operation]:
    """An Operation class whose document has this body, this success response and OpenAI-shaped errors."""
    status, description, success_content = success

    @dataclass
    class Documented(Operation):
        def to_schema(self) -> dict[str, Any]:
            schema = super().to_schema()
            if body is not None:
                schema["requestBody"] = {"required": True, "content": _content(body)}
            schema["parameters"] = [*schema.get("parameters", []), *parameters]
            if not schema["parameters"]:
                del schema["parameters"]
            responses = {status: {"description": description, "content": _content(success_content)}}
            error = {"application/json": ERROR_SCHEMA}
            responses |= {code: {"description": _ERROR_TEXT[code], "content": _content(error)} for code in errors}
            schema["responses"] = responses
            schema["security"] = [{"bearer": []}]
            return schema

    return Documented


SpeechOperation = _operation(
    body={"application/json": _speech_body()},
    success=("200", "The audio, streamed as it is made (SSE events with `stream_format: sse`).",
             {media: {"type": "string", "format": "binary"} for media in _SPEECH_TYPES}),
    errors=_AUDIO_ERRORS)
TranscriptionOperation = _operation(
    body={"multipart/form-data": _transcription_form(translate=False)},
    success=("200", "The transcript in `response_format`.",
             {"application/json": _TRANSCRIPT, "text/plain": {"type": "string"}, "text/event-stream": {"type": "string"}}),
    errors=_AUDIO_ERRORS)
TranslationOperation = _operation(
    body={"multipart/form-data": _transcription_form(translate=True)},
    success=("200", "The English translation in `response_format`.",
             {"application/json": _TRANSCRIPT, "text/plain": {"type": "string"}}),
    errors=_AUDIO_ERRORS)
ModelsOperation = _operation(
    success=("200", "Every catalog model.", {"application/json": {
        "type": "object", "required": ["object", "data"],
        "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": _MODEL}}}}),
    errors=("401",))
ModelOperation = _operation(success=("200", "One model.", {"application/json": _MODEL}), errors=("401", "403", "404"))
CreateJobOperation = _operation(
    body={"application/json": {"anyOf": [_speech_body(), _file_url_body()]},
          "multipart/form-data": _transcription_form(translate=False)},
    success=("202", "Accepted; poll the `Location`.", {"application/json": _JOB}),
    errors=("400", "401", "403", "404", "409", "413", "429", "503"),
    parameters=[{"name": "Idempotency-Key", "in": "header", "required": False,
                 "schema": {"type": "string", "maxLength": 255}}])
JobOperation = _operation(success=("200", "The job.", {"application/json": _JOB}), errors=("401", "404", "409", "503"))
ListJobsOperation = _operation(
    success=("200", "Your jobs, newest first.", {"application/json": {
        "type": "object", "required": ["object", "data", "has_more"],
        "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": _JOB},
                       "has_more": {"type": "boolean"}}}}),
    errors=("400", "401", "503"),
    parameters=[{"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
                {"name": "after", "in": "query", "required": False, "schema": {"type": "string"},
                 "description": "The id of one of your jobs (a page's `last_id`): list the jobs created before "
                                "it. Any other value is a 400."}])


_KEY_ERRORS = ("400", "401", "403", "404", "503")
CreateKeyOperation = _operation(body={"application/json": json_schema(KeyCreate)},
                                success=("201", "The key, with its `secret` (shown only this once).",
                                         {"application/json": KEY_SCHEMA}), errors=("400", "401", "403", "503"))
ListKeysOperation = _operation(success=("200", "Every database key.", {"application/json": {
    "type": "object", "required": ["object", "data"],
    "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": KEY_SCHEMA}}}}),
    errors=("401", "403", "503"))
KeyOperation = _operation(success=("200", "The key.", {"application/json": KEY_SCHEMA}), errors=_KEY_ERRORS)
UpdateKeyOperation = _operation(body={"application/json": json_schema(KeyPatch)},
                                success=("200", "The key as updated.", {"application/json": KEY_SCHEMA}),
                                errors=_KEY_ERRORS)
DeleteKeyOperation = _operation(success=("200", "The key is revoked.", {"application/json": {
    "type": "object", "required": ["object", "name", "deleted"],
    "properties": {"object": {"const": "gateway.key.deleted"}, "name": {"type": "string"},
                   "deleted": {"const": True}}}}), errors=_KEY_ERRORS)


def openapi_config(version: str) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Audio Gateway", version=version, path="/openapi",
        description="OpenAI-compatible speech and transcription, routed by a catalog. Errors are always "
                    "`{\"error\": {\"message\", \"type\", \"param\", \"code\"}}`.",
        components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}),
        render_plugins=[CatalogJsonRenderPlugin()],
    )
