"""What a fake saw: each request decoded once (JSON or multipart) so handlers and tests share it.

Multipart is parsed with python-multipart (the parser the gateway itself uses) fully in memory.
Form fields whose name ends in ``[]`` or that repeat become lists, matching how the OpenAI SDK
encodes ``timestamp_granularities[]`` / ``include[]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
from python_multipart.multipart import MultipartParser, parse_options_header

from .http_server import Request

__all__ = ["FormValue", "RecordedRequest", "UploadedFile", "record"]

FormValue = str | list[str]


@dataclass(frozen=True, slots=True)
class UploadedFile:
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    """Decoded JSON body; None when the body is not JSON (or not valid JSON)."""
    form: dict[str, FormValue] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)
    multipart: bool = False

    @property
    def file(self) -> UploadedFile | None:
        """The upload in the ``file`` field, as the audio endpoints expect it."""
        return self.files.get("file")

    def form_list(self, name: str) -> list[str]:
        """All values of a form field, accepting both ``name[]`` and ``name``."""
        values: list[str] = []
        for key in (f"{name}[]", name):
            value = self.form.get(key)
            if value is not None:
                values.extend(value if isinstance(value, list) else [value])
        return values


def record(request: Request) -> RecordedRequest:
    content_type = request.headers.get("content-type", "")
    mime, options = parse_options_header(content_type)
    base = (request.method, request.path, request.query, request.headers, request.body)
    if mime == b"application/json" or mime.endswith(b"+json"):
        try:
            payload = msgspec.json.decode(request.body)
        except msgspec.DecodeError:
            payload = None
        return RecordedRequest(*base, json=payload)
    if mime == b"multipart/form-data" and b"boundary" in options:
        try:
            form, files = _parse_multipart(request.body, options[b"boundary"])
        except ValueError:  # python-multipart raises MultipartParseError (a ValueError) on broken bodies
            return RecordedRequest(*base)
        return RecordedRequest(*base, form=form, files=files, multipart=True)
    return RecordedRequest(*base)


def _parse_multipart(body: bytes, boundary: bytes) -> tuple[dict[str, FormValue], dict[str, UploadedFile]]:
    parts: list[tuple[dict[str, str], bytes]] = []
    headers: dict[str, str] = {}
    name = bytearray()
    value = bytearray()
    data = bytearray()

    def header_end() -> None:
        headers[name.decode("latin-1").lower()] = value.decode("utf-8", "replace")
        name.clear()
        value.clear()

    def part_end() -> None:
        parts.append((dict(headers), bytes(data)))
        headers.clear()
        data.clear()

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": lambda d, s, e: name.extend(d[s:e]),
            "on_header_value": lambda d, s, e: value.extend(d[s:e]),
            "on_header_end": header_end,
            "on_part_data": lambda d, s, e: data.extend(d[s:e]),
            "on_part_end": part_end,
        },
    )
    parser.write(body)
    parser.finalize()

    form: dict[str, FormValue] = {}
    files: dict[str, UploadedFile] = {}
    for part_headers, content in parts:
        _, disposition = parse_options_header(part_headers.get("content-disposition", ""))
        field_name = disposition.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in disposition:
            filename = disposition[b"filename"].decode("utf-8", "replace")
            files[field_name] = UploadedFile(filename, part_headers.get("content-type"), content)
            continue
        text = content.decode("utf-8", "replace")
        previous = form.get(field_name)
        if previous is None:
            form[field_name] = [text] if field_name.endswith("[]") else text
        elif isinstance(previous, list):
            previous.append(text)
        else:
            form[field_name] = [previous, text]
    return form, files
