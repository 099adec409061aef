"""A WAV upload's chunk layout, walked the way FFmpeg's wav demuxer walks it.

Why: a WAV's length is whatever its ``data`` chunk holds, and readers disagree on which bytes those are
when the chunk sizes are wrong. FFmpeg reads the *last* ``data`` chunk, up to its stated size (to the end
of the file when the size is 0 or 0xFFFFFFFF, as live recorders leave it), and skips whatever follows as
chunks; Python's ``wave`` and libsndfile read the *first* ``data`` chunk, and lenient readers read on to
the end of the file. Bytes that one reader takes for audio and FFmpeg does not are ``stray_bytes``: the
probe refuses a file with more than a second of them instead of billing one reading of it. For plain PCM
the layout also gives the exact sample count without demuxing (the STT hot path probes every upload).
A walk that meets bytes that are no chunk header (not a FOURCC) counts the rest of the file as stray and
stops there; FFmpeg walks on through them, so its count is then taken from its demuxer instead.
"""

from __future__ import annotations

import struct
from typing import IO, Final

import msgspec

__all__ = ["WavLayout", "read_wav_layout"]

_MAGIC: Final = {b"RIFF": "<", b"RIFX": ">"}  # RIFX: the same layout with big-endian integers
# Tags after which FFmpeg's header walk takes another path (Sony SMV video, XMA2): not followed here.
_UNFOLLOWED: Final = frozenset({b"SMV0", b"XMA2"})
_STREAMED_SIZES: Final = (0, 0xFFFFFFFF)  # FFmpeg reads such a data chunk to the end of the file
_MAX_CHUNKS: Final = 256  # real files have a handful; a walk through audio bytes taken for chunks stops here


class WavLayout(msgspec.Struct, frozen=True):
    """The ``fmt `` fields the decoder uses and how much of the file is audio FFmpeg reads."""

    channels: int
    sample_rate: int
    block_align: int
    data_bytes: int  # bytes FFmpeg reads from the last data chunk (its stated size, cut at the end of the file)
    stray_bytes: int  # bytes it skips that other readers take for audio: earlier data chunks, a tail of no chunks
    complete: bool  # the walk followed FFmpeg's to the end, so ``data_bytes`` is exactly what it reads
    format_tag: int = 0  # the fmt chunk's wFormatTag (1: integer PCM) and bits per sample
    bits: int = 0
    little_endian: bool = True  # RIFF; RIFX is big-endian
    data_offset: int = 0  # where the audio FFmpeg reads begins (the last data chunk's body)
    tags: tuple[bytes, ...] = ()  # the chunks walked, in file order


def read_wav_layout(fileobj: IO[bytes], size: int) -> WavLayout | None:
    """The layout of a RIFF/RIFX WAVE file, or None for anything else (RF64, SMV, no fmt or data chunk).

    Reads only chunk headers and the fmt chunk; leaves ``fileobj`` at 0.
    """
    try:
        return _walk(fileobj, size)
    finally:
        fileobj.seek(0)


def _read(fileobj: IO[bytes], offset: int, count: int) -> bytes:
    fileobj.seek(offset)
    return fileobj.read(count)


def _walk(fileobj: IO[bytes], size: int) -> WavLayout | None:
    head = _read(fileobj, 0, 12)
    order = _MAGIC.get(head[:4])
    if order is None or head[8:12] != b"WAVE":
        return None
    fmt: tuple[int, ...] | None = None
    data: list[int] = []  # bytes FFmpeg would read of every data chunk, in file order
    data_offset = 0
    tags: list[bytes] = []
    stray = 0
    complete = True
    pos = 12
    for _ in range(_MAX_CHUNKS):
        header = _read(fileobj, pos, 8) if pos + 8 <= size else b""
        if len(header) < 8:  # FFmpeg stops at the end of the file; a short tail is not audio anyone reads
            break
        tag, length = header[:4], struct.unpack(order + "I", header[4:])[0]
        body = pos + 8
        if tag in _UNFOLLOWED:
            return None
        if not all(0x20 <= c <= 0x7E for c in tag):  # not a FOURCC: audio or junk read as a chunk header
            stray += size - pos
            complete = False
            break
        tags.append(tag)
        if tag == b"data" and length in _STREAMED_SIZES:
            data.append(size - body)
            data_offset = body
            break  # FFmpeg reads to the end and looks no further
        if tag == b"data":
            data.append(min(length, size - body))
            data_offset = body
        elif tag == b"fmt " and fmt is None and length >= 16:
            fmt = struct.unpack(order + "HHIIHH", _read(fileobj, body, 16))
        end = body + length
        if end >= size:  # FFmpeg's walk ends here too
            if end > size and tag != b"data":
                stray += size - pos  # a "chunk" running off the end of the file is no chunk
            break
        pos = end + (end & 1)  # chunks start at even offsets
    else:
        stray += size - pos  # still walking after _MAX_CHUNKS: the rest is unexplained
        complete = False
    if fmt is None or not data:
        return None
    format_tag, channels, sample_rate, _byte_rate, block_align, bits = fmt
    return WavLayout(channels=channels, sample_rate=sample_rate, block_align=block_align, data_bytes=data[-1],
                     stray_bytes=stray + sum(data[:-1]), complete=complete, format_tag=format_tag, bits=bits,
                     little_endian=order == "<", data_offset=data_offset, tags=tuple(tags))
