"""Hostile bodies on top of the OpenAPI fuzz: documented requests, then nested too deep, cut short or trickled.

schemathesis generates a request from the served document (see openapi_fuzz.py); hypothesis then turns it
into what a hostile or clumsy client sends:

- `deep`: the JSON body nested to a depth around MAX_JSON_DEPTH, or far past it (an extra field, or the
  whole body wrapped in arrays). Past the limit the answer is exactly 400 `json_too_deep`.
- `truncated`: the multipart body (its `file` made real audio) cut anywhere before its closing boundary.
  Never a 2xx.
- `trickled`: the same body sent in random small pieces with pauses (chunked, no length). The answer is
  the one the body gets when sent whole: chunk boundaries must not change anything.

Every answer is still checked the way the plain fuzz checks it: no 5xx but the gateway's own 502/503/504,
and every error exactly in OpenAI's shape.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from audio_gateway.api.json_depth import MAX_JSON_DEPTH

from ..audio_samples import make_wav
from .openapi_fuzz import ERROR_KEYS, GATEWAY_5XX, Api

__all__ = ["fuzz_hostile", "TRANSFORMS"]

TRANSFORMS = ("deep", "truncated", "trickled")
_WAV = make_wav(0.5)
_DEPTHS = st.sampled_from([MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 1_000, 100_000])


def _prepared(case: Any, base_url: str, headers: dict[str, str]) -> tuple[str, dict[str, str], bytes]:
    """The request schemathesis would send, as bytes: (url, headers, body)."""
    kwargs = case.as_transport_kwargs(base_url=base_url, headers=headers)
    if kwargs.get("files"):  # real audio in `file`, so that a body cut short is the only thing wrong with it
        kwargs["files"] = [(name, ("call.wav", _WAV, "audio/wav")) if name == "file" else (name, value)
                           for name, value in kwargs["files"]]
    wanted = ("method", "url", "headers", "params", "json", "data", "files")
    prepared = requests.Request(**{k: v for k, v in kwargs.items() if k in wanted}).prepare()
    body = prepared.body or b""
    keep = ("content-type", "idempotency-key")  # the key is ours to give or withhold, not the document's
    sent = {k: v for k, v in prepared.headers.items() if k.lower() in keep} | headers
    return prepared.url or "", sent, (
        body.encode() if isinstance(body, str) else body)


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _deepen(body: bytes, depth: int, as_field: bool) -> tuple[bytes, int]:
    """(new body, its nesting depth)."""
    value = json.loads(body) if body else None
    if as_field and isinstance(value, dict) and value:
        return body[:-1] + b', "hostile": ' + _nested(depth - 1) + b"}", depth
    return b"[" * depth + (body or b"null") + b"]" * depth, depth + _depth(value)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


def _pieces(body: bytes, cuts: list[int], pause: float) -> Iterator[bytes]:
    start = 0
    for cut in sorted({c % (len(body) + 1) for c in cuts}) + [len(body)]:
        if cut > start:
            yield body[start:cut]
            time.sleep(pause)
            start = cut


def _check(response: httpx.Response, label: str) -> None:
    status = response.status_code
    assert status < 500 or status in GATEWAY_5XX, (label, status, response.text[:300])
    if status >= 400:
        assert response.headers.get("content-type", "").startswith("application/json"), (label, response.headers)
        error = response.json()["error"]
        assert ERROR_KEYS <= set(error) <= ERROR_KEYS | {"attempts"}, error
        assert isinstance(error["message"], str) and error["message"], error


def fuzz_hostile(api: Api, label: str, transform: str, auth: dict[str, str], max_examples: int) -> None:
    method, path = label.split(" ", 1)
    operation = api.narrowed[path][method]
    cases = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    media = "multipart/form-data" if transform == "truncated" else "application/json"

    @settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=cases, depth=_DEPTHS, as_field=st.booleans(), cuts=st.lists(st.integers(0, 10**9), max_size=12),
           pause=st.sampled_from([0.0, 0.001, 0.005]))
    def run(case: Any, depth: int, as_field: bool, cuts: list[int], pause: float) -> None:
        if transform in ("deep", "truncated") and case.media_type != media:
            return
        for headers in (auth, {}):
            url, sent_headers, body = _prepared(case, api.base_url, headers)
            with httpx.Client(timeout=15) as http:
                if transform == "deep":
                    deep_body, total = _deepen(body, depth, as_field)
                    response = http.post(url, content=deep_body, headers=sent_headers)
                    _check(response, label)
                    if total > MAX_JSON_DEPTH and response.status_code not in (401, 503):
                        assert response.status_code == 400, (total, response.text[:300])
                        assert response.json()["error"]["code"] == "json_too_deep", response.text[:300]
                elif transform == "truncated":
                    end = body.rfind(b"--\r\n")
                    cut = body[: (cuts[0] % end) if cuts and end > 0 else max(0, end)]
                    response = http.post(url, content=cut, headers=sent_headers)
                    _check(response, label)
                    assert response.status_code >= 400, (len(cut), response.text[:300])
                else:
                    whole = http.post(url, content=body, headers=sent_headers)
                    trickled = http.post(url, content=_pieces(body, cuts, pause),
                                         headers={k: v for k, v in sent_headers.items()})
                    _check(whole, label)
                    _check(trickled, label)
                    assert trickled.status_code == whole.status_code, (whole.text[:300], trickled.text[:300])
                    if whole.status_code >= 400:
                        assert trickled.json()["error"]["code"] == whole.json()["error"]["code"]

    run()
