"""Fuzzing one operation of a running gateway from the OpenAPI document it serves (schemathesis + hypothesis).

Cases are generated from the document as served, and from a copy in which every "any string, or one of
these names" (`model`, `voice`) is narrowed to the names, so a good share of requests reach a real model
and the fakes behind it instead of stopping at 404 model_not_found. Every case is sent twice over real
HTTP, with a client key and without one. What must hold for every response:

- no 5xx except the gateway's own 502/503/504;
- every 4xx/5xx body is exactly OpenAI's `{"error": {"message", "type", "param", "code"}}` (502-504 may add
  `attempts`), served as application/json;
- the response conforms to the document (status code, content type, body schema).
"""

from __future__ import annotations

import copy
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

__all__ = ["Api", "load_api", "fuzz", "assert_openai_error"]

CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
GATEWAY_5XX = (502, 503, 504)
ERROR_KEYS = {"message", "type", "param", "code"}


class Api:
    def __init__(self, base_url: str):
        self.base_url = base_url
        self.document = httpx.get(f"{base_url}/openapi/openapi.json", timeout=10).raise_for_status().json()
        self.served = schemathesis.openapi.from_dict(self.document)
        self.narrowed = schemathesis.openapi.from_dict(_narrow(copy.deepcopy(self.document)))

    def labels(self) -> list[str]:
        return sorted(f"{method.upper()} {path}" for path, item in self.document["paths"].items() for method in item)


def load_api(base_url: str) -> Api:
    return Api(base_url)


def _narrow(node: Any) -> Any:
    """`anyOf: [{type: string}, {type: string, enum: [...]}]` → the enum alone."""
    if isinstance(node, dict):
        branches = node.get("anyOf")
        if isinstance(branches, list) and {"type": "string"} in branches:
            enums = [b for b in branches if isinstance(b, dict) and "enum" in b]
            if enums:
                rest = {k: v for k, v in node.items() if k != "anyOf"}
                return {**rest, **enums[0]}
        return {k: _narrow(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_narrow(v) for v in node]
    return node


def assert_openai_error(response: Any) -> None:
    """Exactly OpenAI's error body; `attempts` only on the gateway's own 502/503/504.

    `response` is schemathesis's: header names lowercased, each value a list.
    """
    status = response.status_code
    content_type = response.headers.get("content-type", [""])
    assert content_type[0].startswith("application/json"), (status, response.headers)
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    extra = set(error) - ERROR_KEYS
    assert set(error) >= ERROR_KEYS and extra <= {"attempts"}, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str) and error["type"], error
    assert error["param"] is None or isinstance(error["param"], str), error
    assert error["code"] is None or isinstance(error["code"], str), error
    if "attempts" in error:
        assert status in GATEWAY_5XX and isinstance(error["attempts"], list), (status, error)


def fuzz(api: Api, label: str, mode: GenerationMode, auth: dict[str, str], max_examples: int) -> None:
    method, path = label.split(" ", 1)
    strategies = [api.served[path][method].as_strategy(generation_mode=mode)]
    if mode is GenerationMode.POSITIVE:
        strategies.append(api.narrowed[path][method].as_strategy(generation_mode=mode))

    @settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(strategies))
    def run(case) -> None:
        for headers in (auth, {}):
            response = case.call(base_url=api.base_url, headers=headers, timeout=10)
            status = response.status_code
            assert status < 500 or status in GATEWAY_5XX, (label, status, response.text)
            if status >= 400:
                assert_openai_error(response)
            case.validate_response(response, checks=CONFORMANCE, headers=headers)

    run()
