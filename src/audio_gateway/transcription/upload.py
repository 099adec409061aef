"""Reading a multipart upload as it arrives: size-capped, spooled, one copy.

python-multipart's streaming parser (the one Starlette uses) feeds us parts chunk
by chunk. File bytes go into memory up to 1 MiB, then to a temporary file, which
fallback re-sends from; text fields are capped; the upload is refused (413) the
moment it passes the limit, without reading the rest. In memory it is a plain
`io.BytesIO`, so the upstream body (`providers/multipart_body.py`) and the probe can
take its buffer as it is: a `SpooledTemporaryFile` goes to disk on the first
`fileno()`, which httpx's encoder called, and hides its buffer.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import AsyncIterator
from typing import IO

import msgspec
from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header

from ..errors import GatewayError, InvalidRequest, PayloadTooLarge

__all__ = ["Upload", "UploadLimits", "read_multipart"]

SPOOL_BYTES = 1024 * 1024


# Fields that carry audio as data URLs (a 10 s reference clip is a few hundred KiB of base64).
_CLIP_FIELDS = frozenset({"known_speaker_references", "known_speaker_references[]"})


class UploadLimits(msgspec.Struct, frozen=True):
    max_file_bytes: int = 25 * 1024 * 1024
    max_field_bytes: int = 64 * 1024
    max_parts: int = 64
    max_clip_field_bytes: int = 2 * 1024 * 1024   # each known_speaker_references[] entry...
    max_clip_fields: int = 4                      # ...of at most four (OpenAI's limit), so 8 MiB at worst

    def field_limit(self, name: str) -> int:
        return self.max_clip_field_bytes if name in _CLIP_FIELDS else self.max_field_bytes


class Upload(msgspec.Struct):
    """The parsed form: text fields (lists keep repeated `name[]` values) and at most one file."""

    fields: dict[str, list[str]]
    file: IO[bytes] | None = None
    filename: str = ""
    content_type: str = "application/octet-stream"
    file_bytes: int = 0

    def first(self, name: str) -> str | None:
        values = self.fields.get(name) or self.fields.get(f"{name}[]")
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [*self.fields.get(name, []), *self.fields.get(f"{name}[]", [])]

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _to_disk(memory: io.BytesIO) -> IO[bytes]:
    """Past SPOOL_BYTES: the bytes so far into an unnamed temporary file, which takes the rest."""
    disk = tempfile.TemporaryFile()
    disk.write(memory.getbuffer())
    memory.close()
    return disk


class _Collector:
    """Callback target for MultipartParser; raises gateway errors as limits are crossed.

    Part headers need no bound here: python-multipart caps each part at 8 header lines of ~4 KiB.
    """

    def __init__(self, limits: UploadLimits):
        self.limits = limits
        self.upload = Upload(fields={})
        self.parts = 0
        self.clips = 0
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._is_file = False
        self._value = bytearray()
        self.complete = False

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > self.limits.max_parts:
            raise InvalidRequest(f"Too many form parts (at most {self.limits.max_parts}).", code="too_many_parts")
        self._headers, self._value = {}, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, disposition = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        self._is_file = filename is not None
        if not self._is_file and self._name in _CLIP_FIELDS:
            self.clips += 1
            if self.clips > self.limits.max_clip_fields:
                raise InvalidRequest(f"`known_speaker_references[]` takes at most {self.limits.max_clip_fields} "
                                     "entries.", param="known_speaker_references", code="array_above_max_length")
        if self._is_file:
            if self._name != "file":
                raise InvalidRequest(f"Unexpected file field {self._name!r}; upload the audio as `file`.", param=self._name)
            if self.upload.file is not None:
                raise InvalidRequest("Send exactly one `file`.", param="file")
            self.upload.file = io.BytesIO()
            self.upload.filename = (filename or b"").decode("utf-8", "replace") or "audio"
            self.upload.content_type = self._headers.get(b"content-type", b"application/octet-stream").decode("latin-1")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        if self._is_file:
            self.upload.file_bytes += size
            if self.upload.file_bytes > self.limits.max_file_bytes:
                raise PayloadTooLarge(
                    f"The uploaded file is larger than {self.limits.max_file_bytes // (1024 * 1024)} MB.",
                    param="file", code="file_too_large")
            assert self.upload.file is not None  # opened when its headers finished
            self.upload.file.write(memoryview(data)[start:end])  # a view: the one copy is the write
            if self.upload.file_bytes > SPOOL_BYTES and isinstance(self.upload.file, io.BytesIO):
                self.upload.file = _to_disk(self.upload.file)
        else:
            self._value += data[start:end]
            if len(self._value) > self.limits.field_limit(self._name):
                raise InvalidRequest(f"Form field {self._name!r} is too long.", param=self._name, code="field_too_long")

    def on_part_end(self) -> None:
        if not self._is_file:
            self.upload.fields.setdefault(self._name, []).append(self._value.decode("utf-8", "replace"))

    def on_end(self) -> None:
        """The closing boundary arrived. Without it the last part may be cut short anywhere, silently."""
        self.complete = True


async def read_multipart(content_type: str, body: AsyncIterator[bytes], limits: UploadLimits) -> Upload:
    """Parse a multipart body as it streams in. The caller closes the returned upload."""
    media_type, options = parse_options_header(content_type)
    if media_type != b"multipart/form-data" or b"boundary" not in options:
        raise InvalidRequest("Send the audio as multipart/form-data with a `file` field.", code="invalid_content_type")
    collector = _Collector(limits)
    callbacks = {name: getattr(collector, name) for name in (
        "on_part_begin", "on_header_field", "on_header_value", "on_header_end", "on_headers_finished",
        "on_part_data", "on_part_end", "on_end")}
    parser = MultipartParser(options[b"boundary"], callbacks)  # type: ignore[arg-type]  # a TypedDict of the same callables
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
        if not collector.complete:
            raise InvalidRequest("The multipart body ended before its closing boundary (`--<boundary>--`); "
                                 "it was cut short.", code="invalid_multipart")
    except Exception as exc:
        collector.upload.close()
        if isinstance(exc, GatewayError):  # our own limits, or the client timing out mid-body
            raise
        raise InvalidRequest(f"The multipart body could not be parsed ({exc}).", code="invalid_multipart") from None
    if collector.upload.file is not None:
        collector.upload.file.seek(0)
    return collector.upload
