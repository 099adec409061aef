"""The transcription form fields newer SDKs send, read and validated as OpenAI documents them.

`chunking_strategy` arrives as `auto`, as a JSON object (curl examples) or, from the OpenAI SDK, as
bracketed parts (`chunking_strategy[type]=server_vad`, `chunking_strategy[threshold]=0.5`); every
form becomes one typed value. `known_speaker_names[]` and `known_speaker_references[]` are paired
lists of at most four, the references data URLs. `include[]` accepts `logprobs` only. Each bad value
is a 400 naming its field; whether a model can honour the value is `transcription_mismatches`' call.
"""

from __future__ import annotations

import binascii
import math
import re
from base64 import b64decode
from collections.abc import Mapping

import msgspec

from ..errors import InvalidRequest
from ..providers.base import ChunkingStrategy, ServerVad
from .upload import Upload

__all__ = ["ServerVad", "ChunkingStrategy", "parse_chunking_strategy", "parse_known_speakers", "parse_include",
           "INCLUDE_VALUES", "MAX_KNOWN_SPEAKERS"]

INCLUDE_VALUES = ("logprobs",)
MAX_KNOWN_SPEAKERS = 4
_FIELD = "chunking_strategy"
_VAD_KEYS = ("type", "prefix_padding_ms", "silence_duration_ms", "threshold")
_DATA_URL = re.compile(r"data:[\w.+-]+/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,(?P<data>[A-Za-z0-9+/=\s]+)", re.ASCII)


def _bad(message: str) -> InvalidRequest:
    return InvalidRequest(message, param=_FIELD, code="invalid_value")


def _whole_ms(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _bad(f"`{_FIELD}.{name}` must be a whole number of milliseconds.")
    try:
        number = int(value)
    except ValueError:
        raise _bad(f"`{_FIELD}.{name}` must be a whole number of milliseconds.") from None
    if number < 0:
        raise _bad(f"`{_FIELD}.{name}` must not be negative.")
    return number


def _threshold(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _bad(f"`{_FIELD}.threshold` must be a number between 0 and 1.")
    try:
        number = float(value)
    except ValueError:
        raise _bad(f"`{_FIELD}.threshold` must be a number between 0 and 1.") from None
    if not math.isfinite(number) or not 0 <= number <= 1:
        raise _bad(f"`{_FIELD}.threshold` must be a number between 0 and 1.")
    return number


def _server_vad(values: Mapping[str, object]) -> ServerVad:
    unknown = sorted(set(values) - set(_VAD_KEYS))
    if unknown:
        raise _bad(f"Unknown `{_FIELD}` field {unknown[0]!r}; a server_vad object takes {list(_VAD_KEYS)}.")
    if values.get("type") != "server_vad":
        raise _bad(f"`{_FIELD}` must be \"auto\" or an object with \"type\": \"server_vad\".")
    return ServerVad(
        prefix_padding_ms=None if values.get("prefix_padding_ms") is None
        else _whole_ms("prefix_padding_ms", values["prefix_padding_ms"]),
        silence_duration_ms=None if values.get("silence_duration_ms") is None
        else _whole_ms("silence_duration_ms", values["silence_duration_ms"]),
        threshold=None if values.get("threshold") is None else _threshold(values["threshold"]),
    )


def parse_chunking_strategy(upload: Upload) -> ChunkingStrategy | None:
    """`auto`, a server_vad object (JSON text or bracketed parts), or None when absent."""
    nested = {name[len(_FIELD) + 1:-1]: values[-1] for name, values in upload.fields.items()
              if name.startswith(f"{_FIELD}[") and name.endswith("]") and values}
    plain = upload.fields.get(_FIELD)
    if nested:
        if plain:
            raise _bad(f"Send `{_FIELD}` once: either \"auto\", a JSON object, or its fields as {_FIELD}[name].")
        return _server_vad(nested)
    if not plain:
        return None
    raw = plain[-1].strip()
    if raw in ("", "null"):
        return None
    if raw == "auto":
        return "auto"
    if raw.startswith("{"):
        try:
            decoded = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            raise _bad(f"`{_FIELD}` is not valid JSON.") from None
        if isinstance(decoded, dict):
            return _server_vad(decoded)
    raise _bad(f"Invalid value for `{_FIELD}`: {raw[:40]!r}. Use \"auto\" or a server_vad object.")


def parse_known_speakers(upload: Upload) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Paired names and reference clips (data URLs), at most four of each."""
    names = tuple(v.strip() for v in upload.all("known_speaker_names"))
    references = tuple(v.strip() for v in upload.all("known_speaker_references"))
    for param, values in (("known_speaker_names", names), ("known_speaker_references", references)):
        if len(values) > MAX_KNOWN_SPEAKERS:
            raise InvalidRequest(f"`{param}[]` takes at most {MAX_KNOWN_SPEAKERS} entries.", param=param,
                                 code="array_above_max_length")
    if len(names) != len(references):
        raise InvalidRequest("Give one `known_speaker_references[]` clip for each `known_speaker_names[]` entry.",
                             param="known_speaker_references" if names else "known_speaker_names",
                             code="invalid_value")
    if any(not name for name in names) or len(set(names)) != len(names):
        raise InvalidRequest("`known_speaker_names[]` must be distinct, non-empty names.",
                             param="known_speaker_names", code="invalid_value")
    for reference in references:
        match = _DATA_URL.fullmatch(reference)
        if match is None or not _is_base64(match["data"]):
            raise InvalidRequest("Each `known_speaker_references[]` entry must be a base64 data URL of audio, "
                                 "e.g. data:audio/wav;base64,UklGR...", param="known_speaker_references",
                                 code="invalid_value")
    return names, references


def _is_base64(data: str) -> bool:
    try:
        return bool(b64decode("".join(data.split()), validate=True))
    except (binascii.Error, ValueError):
        return False


def parse_include(upload: Upload, response_format: str) -> tuple[str, ...]:
    """`include[]` values, each one OpenAI knows; logprobs come only with json, as OpenAI's own rule says."""
    values = tuple(dict.fromkeys(v.strip() for v in upload.all("include") if v.strip()))
    for value in values:
        if value not in INCLUDE_VALUES:
            raise InvalidRequest(f"Invalid value {value!r} for `include[]`; supported: {list(INCLUDE_VALUES)}.",
                                 param="include", code="invalid_value")
    if "logprobs" in values and response_format != "json":
        raise InvalidRequest("`include[]=logprobs` requires `response_format` json.", param="include",
                             code="invalid_value")
    return values
