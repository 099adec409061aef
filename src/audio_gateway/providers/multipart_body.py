"""The upstream multipart body: the small fields encoded here, the uploaded file's bytes forwarded as they are.

Why not httpx's `data=`/`files=`: its encoder sizes the file with `fileno()` (which forces a spooled
upload onto disk, so every upload was written to a temporary file and read back) and then re-reads it
in 64 KiB chunks through a generator that aiohttp iterates again (benchmarks/PROFILE-NOTES.md, 9-18 % of
an STT request). Here the fields and the file part's head are a few hundred bytes built once; an upload
held in memory is joined to them in one copy, and one on disk is read in large chunks, the length known
up front either way (`Content-Length`, never chunked). The encoding is httpx's: HTML5 form escaping of
names and file names, one part per value of a list field, `os.urandom` boundaries.
"""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator, Mapping
from typing import IO

__all__ = ["MultipartBody", "multipart_body"]

_CHUNK = 1024 * 1024  # an upload on disk is past 1 MiB: few reads, each a plain copy
_ESCAPES = str.maketrans({'"': "%22", "\\": "\\\\"})  # httpx's (the HTML5 form encoding)


class MultipartBody:
    """`content` (bytes, or an async iterator of them), `length` and the `content_type` header."""

    __slots__ = ("content", "length", "content_type")

    def __init__(self, content: bytes | AsyncIterator[bytes], length: int, content_type: str):
        self.content, self.length, self.content_type = content, length, content_type


def _param(name: str, value: str) -> str:
    return f'{name}="{value.translate(_ESCAPES)}"'


def _head(fields: Mapping[str, str | list[str]], file_field: str, filename: str, content_type: str,
          boundary: str) -> bytes:
    parts = []
    for name, value in fields.items():
        for one in (value if isinstance(value, list) else (value,)):
            parts.append(f"--{boundary}\r\nContent-Disposition: form-data; {_param('name', name)}\r\n\r\n{one}\r\n")
    parts.append(f"--{boundary}\r\nContent-Disposition: form-data; {_param('name', file_field)}; "
                 f"{_param('filename', filename)}\r\nContent-Type: {content_type}\r\n\r\n")
    return "".join(parts).encode()


def _file_size(file: IO[bytes]) -> int:
    file.seek(0, io.SEEK_END)
    size = file.tell()
    file.seek(0)
    return size


async def _streamed(head: bytes, file: IO[bytes], tail: bytes) -> AsyncIterator[bytes]:
    yield head
    file.seek(0)
    while chunk := file.read(_CHUNK):
        yield chunk
    yield tail


def multipart_body(fields: Mapping[str, str | list[str]], file_field: str, filename: str, file: IO[bytes],
                   content_type: str) -> MultipartBody:
    """The whole body for one attempt (fallback builds another from the same upload)."""
    boundary = os.urandom(16).hex()
    head = _head(fields, file_field, filename, content_type, boundary)
    tail = f"\r\n--{boundary}--\r\n".encode()
    header = f"multipart/form-data; boundary={boundary}"
    if isinstance(file, io.BytesIO):  # held in memory (transcription/upload.py): one copy, no reads
        content = b"".join((head, file.getbuffer(), tail))
        return MultipartBody(content, len(content), header)
    size = _file_size(file)
    return MultipartBody(_streamed(head, file, tail), len(head) + size + len(tail), header)
