"""The JSON nesting check: exact against a plain reference walk, brackets inside strings ignored."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audio_gateway.api.errors import decode_json_body
from audio_gateway.api.json_depth import MAX_JSON_DEPTH, nests_deeper_than
from audio_gateway.errors import InvalidRequest


def reference_depth(body: bytes) -> int:
    """Deepest nesting of arrays/objects, walking the text one character at a time."""
    depth = deepest = 0
    in_string = escaped = False
    for char in body.decode():
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


tricky_text = st.text(st.sampled_from('[]{}"\\ax,:'), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | tricky_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(tricky_text, children, max_size=4),
    max_leaves=60)


@settings(max_examples=400, deadline=None)
@given(json_values, st.integers(0, 12))
def test_agrees_with_the_reference_walk(value, limit):
    body = json.dumps(value).encode()
    assert nests_deeper_than(body, limit) == (reference_depth(body) > limit)


def nested(depth: int, shape: str) -> bytes:
    if shape == "arrays":
        return b"[" * depth + b"]" * depth
    if shape == "objects":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b'[{"k":' * (depth // 2) + b"[]" * (depth % 2) + b"}]" * (depth // 2)  # alternating, with siblings


@pytest.mark.parametrize("shape", ["arrays", "objects", "mixed"])
def test_the_limit_is_exact(shape):
    assert not nests_deeper_than(nested(MAX_JSON_DEPTH, shape))
    assert nests_deeper_than(nested(MAX_JSON_DEPTH + 1, shape))
    assert nests_deeper_than(nested(100_000, shape))


def test_brackets_in_strings_are_text():
    text = msgspec.json.encode({"input": "[[[{{{" * 10_000 + '\\"]]] "' * 100})
    assert not nests_deeper_than(text)
    assert not nests_deeper_than(b'["' + b"[" * 500 + b'"]')


def test_wide_bodies_with_many_shallow_brackets_pass():
    assert not nests_deeper_than(b"[" + b",".join([b"[[1, {}], []]"] * 50_000) + b"]")
    inside = b"[" * 60 + b"[[],[[]]]," * 20_000 + b"[]" + b"]" * 60  # many brackets just under the limit
    assert reference_depth(inside) == 63 and not nests_deeper_than(inside)


def test_a_recursion_error_from_the_parser_is_a_400_too():
    """The check is skipped (as after an earlier check): what the parser raises still becomes a 400."""
    with pytest.raises(InvalidRequest) as caught:
        decode_json_body(nested(50_000, "arrays"), list, depth_checked=True)
    assert (caught.value.status, caught.value.code, caught.value.param) == (400, "json_too_deep", None)
