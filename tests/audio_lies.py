"""Real audio files whose headers lie about their length, made by patching ``make_audio`` output byte-wise.

Each patch rewrites only the field a container uses to state its duration, the way a hand-edited or
hostile upload would, and keeps the file otherwise valid (Ogg pages get their CRC recomputed), so FFmpeg
still opens and decodes every sample. ``decoded_seconds`` is the ground truth: what a full decode outputs.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterator
from functools import lru_cache

import av

from .audio_samples import make_audio, make_wav

__all__ = [
    "HELD",
    "LIARS",
    "UPLOADED_LIARS",
    "decoded_seconds",
    "liar",
    "liar_upload",
    "flac_claiming",
    "mp4_claiming",
    "ogg_claiming",
    "wav_with_data_size",
    "wav_with_two_data_chunks",
    "whole_seconds",
]


#: Lies FFmpeg decodes through: the container states ``claimed`` seconds, the decoder outputs ``held``.
LIARS = ("flac", "m4a", "m4a_stts", "ogg_opus", "ogg_opus_every_page", "ogg_vorbis", "ogg_vorbis_every_page")


#: "Claims 1 s, holds 120 s", a little short so every codec's padding still rounds up to 120 whole seconds.
HELD = 119.9
#: The lies sent through the gateway, with the extension a client would give each file.
UPLOADED_LIARS = {"flac": "flac", "m4a": "m4a", "m4a_stts": "m4a", "ogg_opus": "ogg", "ogg_vorbis": "ogg"}


def liar_upload(kind: str) -> dict[str, tuple[str, bytes, str]]:
    """An httpx ``files=`` value: ``HELD`` seconds whose header says 1 s."""
    return {"file": (f"liar.{UPLOADED_LIARS[kind]}", liar(kind, HELD), "application/octet-stream")}


def whole_seconds(kind: str) -> int:
    """Whole seconds FFmpeg, and so the provider, decodes of ``liar_upload(kind)``: 120 where it decodes
    all 119.9 s. A lying final Ogg Opus granule makes it trim the last page to it (up to a second); a
    scaled stts makes it discard the 128 packets now before the edit list's start (2.6 s)."""
    seconds = math.ceil(decoded_seconds(liar(kind, HELD)))
    assert seconds == 120 or kind in ("ogg_opus", "m4a_stts") and seconds >= 117
    return seconds


def liar(kind: str, held: float, claimed: float = 1.0) -> bytes:
    """``held`` seconds of tone in a file whose header says ``claimed`` (``kind`` from ``LIARS``)."""
    return _liar(kind, float(held), float(claimed))


@lru_cache(maxsize=32)
def _liar(kind: str, held: float, claimed: float) -> bytes:
    if kind == "flac":
        return flac_claiming(make_audio("flac", held), claimed)
    if kind in ("m4a", "m4a_stts"):
        return mp4_claiming(make_audio("m4a", held), claimed, stts=kind == "m4a_stts")
    fmt, rate = ("ogg", 48000) if kind.startswith("ogg_opus") else ("ogg_vorbis", 44100)
    return ogg_claiming(make_audio(fmt, held), claimed, rate, every_page=kind.endswith("every_page"))


def decoded_seconds(data: bytes) -> float:
    """Seconds FFmpeg's decoder outputs for the first audio stream (what a provider transcribes)."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = rate = 0
        for frame in container.decode(stream):
            samples += frame.samples
            rate = frame.sample_rate
        return samples / rate if rate else 0.0


# --- FLAC: STREAMINFO's 36-bit total-samples field ------------------------------------------------------

def flac_claiming(data: bytes, seconds: float) -> bytes:
    """The FLAC ``data`` with STREAMINFO claiming ``seconds`` (0 means "unknown" to FLAC readers)."""
    out = bytearray(data)
    if out[:4] != b"fLaC" or out[4] & 0x7F != 0:
        raise ValueError("not a FLAC file starting with STREAMINFO")
    packed = int.from_bytes(out[18:26], "big")  # 20 bits rate, 3 channels, 5 bits per sample, 36 samples
    rate = packed >> 44
    mask = (1 << 36) - 1
    out[18:26] = ((packed & ~mask) | round(seconds * rate) & mask).to_bytes(8, "big")
    return bytes(out)


# --- MP4: mvhd / tkhd / mdhd durations, optionally the stts table and the edit list -----------------------

_MP4_PARENTS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"})


def _boxes(data: bytearray, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload offset, box end) of every box, depth first, inside the parents that matter here."""
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:
            size = end - at
        yield kind, at + header, at + size
        if kind in _MP4_PARENTS:
            yield from _boxes(data, at + header, at + size)
        at += size


def _full_box_field(data: bytearray, payload: int, offset_v0: int, offset_v1: int) -> tuple[int, str]:
    """Where a 32-bit (version 0) or 64-bit (version 1) field of a full box lies, and its struct format."""
    return (payload + offset_v0, ">I") if data[payload] == 0 else (payload + offset_v1, ">Q")


def mp4_claiming(data: bytes, seconds: float, *, stts: bool = False, edit_list: bool = False) -> bytes:
    """The MP4 ``data`` with mvhd, tkhd and mdhd durations claiming ``seconds``.

    ``stts=True`` also scales every sample's stated duration so the table sums to about ``seconds``;
    ``edit_list=True`` also cuts the edit list to ``seconds``.
    """
    out = bytearray(data)
    boxes = list(_boxes(out, 0, len(out)))
    timescale = {}
    for kind, payload, _ in boxes:
        if kind in (b"mvhd", b"mdhd"):
            at, _fmt = _full_box_field(out, payload, 12, 20)
            timescale[kind] = struct.unpack_from(">I", out, at)[0]
    stated = {}
    for kind, payload, _ in boxes:
        if kind == b"mdhd":
            at, fmt = _full_box_field(out, payload, 16, 24)
            stated["media"] = struct.unpack_from(fmt, out, at)[0]
    movie, media = round(seconds * timescale[b"mvhd"]), round(seconds * timescale[b"mdhd"])
    for kind, payload, _ in boxes:
        if kind == b"mvhd":
            struct.pack_into(*_pair(out, payload, 16, 24, movie))
        elif kind == b"tkhd":
            struct.pack_into(*_pair(out, payload, 20, 28, movie))
        elif kind == b"mdhd":
            struct.pack_into(*_pair(out, payload, 16, 24, media))
        elif kind == b"elst" and edit_list:
            struct.pack_into(*_pair(out, payload, 8, 8, movie))  # the first entry's segment duration
        elif kind == b"stts" and stts:
            factor = media / max(1, stated["media"])
            for entry in range(struct.unpack_from(">I", out, payload + 4)[0]):
                at = payload + 8 + 8 * entry
                count, delta = struct.unpack_from(">II", out, at)
                struct.pack_into(">II", out, at, count, max(1, round(delta * factor)))
    return bytes(out)


def _pair(data: bytearray, payload: int, offset_v0: int, offset_v1: int, value: int) -> tuple:
    at, fmt = _full_box_field(data, payload, offset_v0, offset_v1)
    return fmt, data, at, value


# --- Ogg: granule positions (the last page's, or every page's) ------------------------------------------

def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        r = byte << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else r << 1
            r &= 0xFFFFFFFF
        table.append(r)
    return tuple(table)


_CRC = _crc_table()


def _ogg_crc(page: bytes | bytearray) -> int:
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[((crc >> 24) & 0xFF) ^ byte]
    return crc


def _pages(data: bytearray) -> Iterator[tuple[int, int]]:
    at = 0
    while at + 27 <= len(data):
        if data[at : at + 4] != b"OggS":
            raise ValueError(f"no Ogg page at {at}")
        segments = data[at + 26]
        size = 27 + segments + sum(data[at + 27 : at + 27 + segments])
        yield at, size
        at += size


def ogg_claiming(data: bytes, seconds: float, rate: int, *, every_page: bool = False) -> bytes:
    """The Ogg ``data`` whose final granule position claims ``seconds`` at ``rate`` (48000 for Opus).

    ``every_page=True`` scales every page's granule instead, so packet timestamps lie throughout.
    """
    out = bytearray(data)
    pages = list(_pages(out))
    final = struct.unpack_from("<q", out, pages[-1][0] + 6)[0]
    factor = seconds * rate / final
    for number, (at, size) in enumerate(pages):
        granule = struct.unpack_from("<q", out, at + 6)[0]
        if granule <= 0 or not (every_page or number == len(pages) - 1):
            continue
        struct.pack_into("<q", out, at + 6, round(granule * factor))
        struct.pack_into("<I", out, at + 22, 0)
        struct.pack_into("<I", out, at + 22, _ogg_crc(out[at : at + size]))
    return bytes(out)


# --- WAV: the data chunk's size -------------------------------------------------------------------------

def _wav_parts(seconds: float, sample_rate: int) -> tuple[bytes, bytes]:
    """(RIFF header and fmt chunk, PCM samples) of a ``make_wav`` file."""
    data = make_wav(seconds, sample_rate)
    at = data.index(b"data", 12)
    return data[:at], data[at + 8 :]


def _riff(fmt_part: bytes, chunks: bytes) -> bytes:
    body = fmt_part[12:] + chunks
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def _chunk(tag: bytes, body: bytes, size: int | None = None) -> bytes:
    return tag + struct.pack("<I", len(body) if size is None else size) + body + b"\0" * (len(body) & 1)


def wav_with_data_size(claimed: float, held: float, sample_rate: int = 16000) -> bytes:
    """A PCM WAV whose data chunk says ``claimed`` seconds while ``held`` seconds of samples follow it."""
    head, pcm = _wav_parts(held, sample_rate)
    return _riff(head, _chunk(b"data", pcm, size=round(claimed * sample_rate) * 2))


def wav_with_two_data_chunks(first: float, second: float, sample_rate: int = 16000) -> bytes:
    """A PCM WAV with two data chunks: FFmpeg reads the last, Python's ``wave`` and libsndfile the first."""
    head, pcm = _wav_parts(first + second, sample_rate)
    cut = round(first * sample_rate) * 2
    return _riff(head, _chunk(b"data", pcm[:cut]) + _chunk(b"data", pcm[cut:]))
