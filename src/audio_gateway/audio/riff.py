"""A WAV upload's chunk layout, walked the way FFmpeg's wav demuxer walks it.

Why: a WAV's length is whatever its ``data`` chunk holds, and readers disagree on which bytes those are
when the chunk sizes are wrong. FFmpeg reads the *last* ``data`` chunk, up to its stated size (to the end
of the file when the size is 0 or 0xFFFFFFFF, as live recorders leave it), and skips whatever follows as
chunks; Python's ``wave`` and libsndfile read the *first* ``data`` chunk, and lenient readers read on to
the end of the file. Bytes that one reader takes for audio and FFmpeg does not are ``stray_bytes``: the
probe refuses a file with more than a second of them instead of billing one reading of it. For plain PCM
the layout also gives the exact sample count without demuxing (the STT hot path probes every upload).
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
    """The ``fmt `` fields and where the audio FFmpeg decodes lies."""

    format_tag: int
    channels: int
    sample_rate: int
    byte_rate: int
    block_align: int
    bits_per_sample: int
    data_offset: int  # the body of the last data chunk: where FFmpeg starts reading audio
    data_bytes: int  # how many bytes FFmpeg reads from there (the stated size, cut at the end of the file)
    stray_bytes: int  # audio-sized bytes FFmpeg skips: earlier data chunks, a tail that is not chunks


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
    data: list[tuple[int, int]] = []  # (body offset, bytes FFmpeg would read) of every data chunk
    stray = 0
    pos = 12
    for _ in range(_MAX_CHUNKS):
        header = _read(fileobj, pos, 8) if pos + 8 <= size else b""
        if len(header) < 8:  # FFmpeg stops at the end of the file; a short tail is not audio anyone reads
            break
        tag, length = header[:4], struct.unpack(order + "I", header[4:])[0]
        body = pos + 8
        if tag in _UNFOLLOWED:
            return None
        if tag == b"data" and length in _STREAMED_SIZES:
            data.append((body, size - body))
            break  # FFmpeg reads to the end and looks no further
        if tag == b"data":
            data.append((body, min(length, size - body)))
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
    if fmt is None or not data:
        return None
    format_tag, channels, sample_rate, byte_rate, block_align, bits = fmt
    offset, used = data[-1]
    return WavLayout(
        format_tag=format_tag, channels=channels, sample_rate=sample_rate, byte_rate=byte_rate,
        block_align=block_align, bits_per_sample=bits, data_offset=offset, data_bytes=used,
        stray_bytes=stray + sum(n for _, n in data[:-1]),
    )
