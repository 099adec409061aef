"""Join the audio of several TTS requests into ONE valid file of the requested ``response_format``.

Why: a long job is synthesised piece by piece (see ``split``), but the client asked for one file. Simply
concatenating bytes is right for some formats and wrong for others, so each format is joined the
cheapest way that still yields a file every decoder plays to the end with the right duration:

``pcm``
    Raw s16le samples: plain concatenation (each piece must hold whole 16-bit samples).
``wav``
    Each piece's RIFF chunks are parsed; streamed pieces (``data`` size 0xFFFFFFFF or 0, or larger than
    the piece) run to the end of the piece; a trailing partial sample frame is dropped. All pieces must
    share one ``fmt `` (encoding, rate, channels, sample width); one header with exact sizes is written,
    followed by the samples. No re-encoding.
``aac``
    ADTS is self-framing, so concatenation is a valid stream. Each piece is walked frame by frame
    (leading ID3v2 tags and trailing ID3v1/APE tags dropped), so garbage is refused instead of being
    glued into the middle; all pieces must share profile, sample rate and channel configuration.
``mp3``
    The pieces are demuxed with PyAV, which leaves out ID3 tags and the Xing/Info/VBRI header frame.
    When no piece declares gapless trimming (a LAME tag's encoder delay/padding) and all share sample
    rate and channels, the bare MPEG frames are concatenated: lossless, instant, and exactly the summed
    duration. When pieces do declare trimming, concatenation would leave each piece's encoder delay and
    padding (~50-100 ms) in the middle, where no header can describe it -- the file would play longer
    than the pieces; so the pieces are decoded (trim applied) and re-encoded as one libmp3lame stream at
    the first piece's rate, channels and bitrate, with a fresh Xing/LAME header.
``opus``, ``flac``
    Ogg Opus pages and FLAC frames carry stream-global numbering and headers, so the pieces are decoded
    with PyAV (Opus pre-skip and end trimming applied) and re-encoded as one stream: libopus in Ogg at
    48 kHz with about the first piece's bitrate; FLAC (lossless) at the first piece's rate and width.

Re-encoding works frame by frame: memory is the pieces, the output, and a few frames; it runs at
roughly 170x real time (about 80 s of CPU for the ~3.7 hours a 200,000-character job makes). A
re-encoded stream converts every piece to the first piece's rate and channel layout, so those may differ;
pieces of one job can come from different providers after a fallback, so wav (16-bit PCM) and aac pieces
of differing shape are re-encoded that way too rather than refused, as are mp3 pieces of differing rate or
channels. Raw pcm carries no shape: every provider is asked for OpenAI's 24 kHz s16le mono. Any piece that is empty, malformed, undecodable or incompatible raises
``StitchError`` (a ``ValueError``) naming the piece. A single piece is returned unchanged (after the
emptiness check): it already is one valid file.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from typing import Any, Final, NamedTuple

import av

from ..audio.formats import SPEECH_CONTENT_TYPES, speech_content_type

__all__ = ["STITCH_FORMATS", "StitchError", "content_type_for", "stitch_audio"]

#: The ``response_format`` values ``stitch_audio`` joins.
STITCH_FORMATS: Final = tuple(SPEECH_CONTENT_TYPES)

# Demuxer forced for each re-encoded format, and the decoders accepted in it.
_DEMUXERS: Final = {"mp3": "mp3", "opus": "ogg", "flac": "flac", "wav": "wav", "aac": "aac"}
_DECODERS: Final = {"mp3": {"mp3", "mp3float"}, "opus": {"opus", "libopus"}, "flac": {"flac"},
                    "wav": {"pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_u8"}, "aac": {"aac"}}
_WAV_MAX: Final = 0xFFFFFFFF
_WAV_UNKNOWN_SIZES: Final = (0, 0xFFFFFFFF)


class StitchError(ValueError):
    """The pieces cannot be joined into one file: empty, malformed, undecodable or incompatible."""


content_type_for = speech_content_type  # kept under the name the job runner reads naturally


def stitch_audio(pieces: Sequence[bytes], fmt: str) -> bytes:
    """Join ``pieces`` (each a complete ``fmt`` file, in order) into one ``fmt`` file.

    See the module docstring for how each format is joined. Raises ``StitchError`` for an unknown
    format, no pieces, an empty piece, or pieces that are malformed, undecodable or incompatible.
    """
    if fmt not in SPEECH_CONTENT_TYPES:
        raise StitchError(f"cannot stitch audio format {fmt!r}; expected one of {', '.join(STITCH_FORMATS)}")
    pieces = list(pieces)
    if not pieces:
        raise StitchError("no audio pieces to stitch")
    for index, piece in enumerate(pieces):
        if not piece:
            raise StitchError(f"{_name(index, len(pieces))} is empty")
    if len(pieces) == 1:
        return pieces[0]
    return _JOINERS[fmt](pieces)


def _name(index: int, count: int) -> str:
    return f"audio piece {index + 1} of {count}"


# --- pcm ---------------------------------------------------------------------------------------------


def _join_pcm(pieces: list[bytes]) -> bytes:
    for index, piece in enumerate(pieces):
        if len(piece) % 2:
            raise StitchError(f"{_name(index, len(pieces))} is not whole 16-bit samples ({len(piece)} bytes)")
    return b"".join(pieces)


# --- wav ---------------------------------------------------------------------------------------------


class _Wav(NamedTuple):
    fmt: bytes  # the ``fmt `` chunk's body
    key: tuple[Any, ...]  # what must match across pieces
    describe: str
    data: memoryview  # whole sample frames only
    block_align: int
    encoding: int


def _parse_wav(piece: bytes, index: int, count: int) -> _Wav:
    name = _name(index, count)
    size = len(piece)
    if size < 12 or piece[0:4] not in (b"RIFF", b"RF64") or piece[8:12] != b"WAVE":
        raise StitchError(f"{name} is not a RIFF WAVE file")
    view = memoryview(piece)
    fmt: bytes | None = None
    data: memoryview | None = None
    ds64_data: int | None = None
    pos = 12
    while pos + 8 <= size:
        chunk_id = piece[pos : pos + 4]
        (chunk_size,) = struct.unpack_from("<I", piece, pos + 4)
        body = pos + 8
        if chunk_id == b"ds64" and chunk_size >= 16 and body + 16 <= size:
            (ds64_data,) = struct.unpack_from("<Q", piece, body + 8)
        elif chunk_id == b"fmt ":
            fmt = bytes(piece[body : body + chunk_size])
        elif chunk_id == b"data":
            if chunk_size == 0xFFFFFFFF and ds64_data is not None:
                chunk_size = ds64_data
            if chunk_size in _WAV_UNKNOWN_SIZES or body + chunk_size > size:
                data = view[body:]  # streamed or truncated: the samples run to the end of the piece
                break
            data = view[body : body + chunk_size]
        pos = body + chunk_size + (chunk_size & 1)
    if fmt is None or len(fmt) < 16:
        raise StitchError(f"{name} has no valid 'fmt ' chunk")
    if data is None:
        raise StitchError(f"{name} has no 'data' chunk")
    encoding, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if not channels or not rate or not block_align:
        raise StitchError(f"{name} has an invalid 'fmt ' chunk ({channels} channels, {rate} Hz)")
    extension = fmt[18:40] if encoding == 0xFFFE else b""  # valid bits, channel mask, sub-format GUID
    usable = len(data) - len(data) % block_align
    kind = {1: "PCM", 3: "float", 6: "A-law", 7: "mu-law", 0xFFFE: "extensible"}.get(encoding, f"0x{encoding:04x}")
    return _Wav(
        fmt=fmt,
        key=(encoding, channels, rate, block_align, bits, extension),
        describe=f"{kind} {bits}-bit, {channels} channel(s), {rate} Hz",
        data=data[:usable],
        block_align=block_align,
        encoding=encoding,
    )


def _join_wav(pieces: list[bytes]) -> bytes:
    parsed = [_parse_wav(piece, index, len(pieces)) for index, piece in enumerate(pieces)]
    first = parsed[0]
    if any(wav.key != first.key for wav in parsed[1:]):
        # Pieces made by different providers (a fallback mid-job): convert them all to piece 1's shape.
        if first.encoding != 1 or first.key[4] != 16:
            odd = next(i for i, wav in enumerate(parsed) if wav.key != first.key)
            raise StitchError(f"{_name(odd, len(pieces))} is {parsed[odd].describe}, but audio piece 1 is "
                              f"{first.describe}, which the gateway does not convert to")
        source = _probe_first(pieces, "wav")
        return _transcode(pieces, "wav", muxer="wav", codec="pcm_s16le", rate=source.rate, layout=source.layout,
                          sample_format="s16")
    data_size = sum(len(wav.data) for wav in parsed)
    fmt_chunk = b"fmt " + struct.pack("<I", len(first.fmt)) + first.fmt + b"\0" * (len(first.fmt) & 1)
    # Non-PCM encodings (float, A-law, ...) must carry a 'fact' chunk with the sample-frame count.
    fact_chunk = b""
    if first.encoding != 1:
        fact_chunk = b"fact" + struct.pack("<II", 4, min(data_size // first.block_align, _WAV_MAX))
    riff_size = 4 + len(fmt_chunk) + len(fact_chunk) + 8 + data_size + (data_size & 1)
    if riff_size > _WAV_MAX:
        raise StitchError(f"the joined audio ({data_size} bytes of samples) is too large for a WAV file")
    header = b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + fmt_chunk + fact_chunk
    header += b"data" + struct.pack("<I", data_size)
    return b"".join([header, *(wav.data for wav in parsed), b"\0" * (data_size & 1)])


# --- aac (ADTS) --------------------------------------------------------------------------------------


def _id3v2_end(piece: bytes, pos: int = 0) -> int:
    """The offset just past any ID3v2 tags starting at ``pos``."""
    while piece[pos : pos + 3] == b"ID3" and len(piece) >= pos + 10:
        size = 0
        for byte in piece[pos + 6 : pos + 10]:
            size = (size << 7) | (byte & 0x7F)
        footer = 10 if piece[pos + 5] & 0x10 else 0
        pos += 10 + size + footer
    return pos


def _adts_frames(piece: bytes, index: int, count: int) -> tuple[tuple[int, int, int], memoryview]:
    name = _name(index, count)
    size = len(piece)
    start = pos = _id3v2_end(piece)
    key: tuple[int, int, int] | None = None
    while pos + 7 <= size:
        if piece[pos] != 0xFF or piece[pos + 1] & 0xF6 != 0xF0:  # 12-bit sync word, layer 00
            break
        length = ((piece[pos + 3] & 0x03) << 11) | (piece[pos + 4] << 3) | (piece[pos + 5] >> 5)
        if length < 7 or pos + length > size:
            break
        if key is None:
            b2, b3 = piece[pos + 2], piece[pos + 3]
            key = (b2 >> 6, (b2 >> 2) & 0x0F, ((b2 & 0x01) << 2) | (b3 >> 6))
        pos += length
    if key is None:
        raise StitchError(f"{name} is not an ADTS AAC stream")
    rest = piece[pos : pos + 8]
    if pos < size and not (rest.startswith((b"TAG", b"ID3", b"APETAGEX")) or _id3v2_end(piece, pos) == size):
        raise StitchError(f"{name} has an invalid or truncated ADTS frame at byte {pos}")
    return key, memoryview(piece)[start:pos]


_ADTS_RATES: Final = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


def _describe_adts(key: tuple[int, int, int]) -> str:
    profile, rate_index, channels = key
    rate = _ADTS_RATES[rate_index] if rate_index < len(_ADTS_RATES) else f"rate index {rate_index}"
    return f"AAC profile {profile + 1}, {rate} Hz, channel configuration {channels}"


def _join_aac(pieces: list[bytes]) -> bytes:
    parsed = [_adts_frames(piece, index, len(pieces)) for index, piece in enumerate(pieces)]
    first = parsed[0][0]
    if any(key != first for key, _ in parsed[1:]):
        # Pieces of different shapes (a fallback mid-job): one AAC stream at piece 1's rate and layout.
        source = _probe_first(pieces, "aac")
        return _transcode(pieces, "aac", muxer="adts", codec="aac", rate=source.rate, layout=source.layout,
                          sample_format="fltp", bit_rate=source.bit_rate or 96_000)
    return b"".join(frames for _, frames in parsed)


# --- decoded formats: mp3, opus, flac ----------------------------------------------------------------


class _Source(NamedTuple):
    rate: int
    layout: str
    channels: int
    sample_format: str
    bit_rate: int


@contextmanager
def _open_piece(piece: bytes, fmt: str, index: int, count: int) -> Iterator[tuple[Any, Any]]:
    """The piece's container and audio stream; any failure to read it is a ``StitchError``."""
    name = _name(index, count)
    try:
        container = av.open(io.BytesIO(piece), mode="r", format=_DEMUXERS[fmt], metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise StitchError(f"{name} is not valid {fmt}: {_describe(exc)}") from exc
    with container:
        streams = container.streams.audio
        if not streams:
            raise StitchError(f"{name} holds no {fmt} audio")
        stream = streams[0]
        codec = str(getattr(stream.codec_context, "name", "") or "")
        if codec not in _DECODERS[fmt]:
            raise StitchError(f"{name} holds {codec or 'unknown'} audio, not {fmt}")
        try:
            yield container, stream
        except StitchError:
            raise
        except (av.FFmpegError, ValueError) as exc:  # PyAV raises ValueError for frames it cannot convert
            raise StitchError(f"{name} could not be decoded as {fmt}: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__)[:200]


def _channels(ctx: Any) -> int:
    return int(getattr(ctx.layout, "nb_channels", 0) or getattr(ctx, "channels", 0) or 0)


def _source(stream: Any, container: Any) -> _Source:
    ctx = stream.codec_context
    return _Source(
        rate=int(ctx.sample_rate or 0),
        layout=str(ctx.layout.name),
        channels=_channels(ctx),
        sample_format=str(ctx.format.name) if ctx.format is not None else "",
        bit_rate=int(ctx.bit_rate or stream.bit_rate or container.bit_rate or 0),
    )


def _probe_first(pieces: list[bytes], fmt: str) -> _Source:
    with _open_piece(pieces[0], fmt, 0, len(pieces)) as (container, stream):
        source = _source(stream, container)
        if not source.sample_format:  # some demuxers leave it to the decoder: decode one frame
            for frame in container.decode(stream):
                source = source._replace(sample_format=frame.format.name)
                break
    if not source.rate or not source.channels:
        raise StitchError(f"audio piece 1 of {len(pieces)} has no sample rate or channels")
    return source


def _transcode(
    pieces: list[bytes],
    fmt: str,
    *,
    muxer: str,
    codec: str,
    rate: int,
    layout: str,
    sample_format: str,
    bit_rate: int | None = None,
    muxer_options: dict[str, str] | None = None,
) -> bytes:
    """Decode every piece, convert it to one format, and encode a single ``codec`` stream."""
    count = len(pieces)
    buffer = io.BytesIO()
    try:
        with av.open(buffer, mode="w", format=muxer, options=muxer_options or {}) as out:
            stream: Any = out.add_stream(codec, rate=rate, layout=layout)  # an audio stream (PyAV types every kind)
            stream.codec_context.format = sample_format
            if bit_rate:
                stream.codec_context.bit_rate = bit_rate
            time_base = Fraction(1, rate)
            written = 0
            for index, piece in enumerate(pieces):
                before = written
                with _open_piece(piece, fmt, index, count) as (container, source):
                    resampler: Any = None
                    shape = None
                    for frame in container.decode(source):
                        frame_shape = (frame.format.name, frame.layout.name, frame.sample_rate)
                        if frame_shape != shape:  # a new piece, or a stream that changes mid-way
                            if resampler is not None:
                                for converted in resampler.resample(None):
                                    written = _encode(out, stream, converted, written, time_base)
                            resampler = av.AudioResampler(format=sample_format, layout=layout, rate=rate)
                            shape = frame_shape
                        for converted in resampler.resample(frame):
                            written = _encode(out, stream, converted, written, time_base)
                    if resampler is not None:
                        for converted in resampler.resample(None):
                            written = _encode(out, stream, converted, written, time_base)
                if written == before:
                    raise StitchError(f"{_name(index, count)} decodes to no audio")
            for packet in stream.encode(None):
                out.mux(packet)
    except av.FFmpegError as exc:
        raise StitchError(f"could not encode the joined {fmt} audio: {_describe(exc)}") from exc
    return buffer.getvalue()


def _encode(out: Any, stream: Any, frame: Any, written: int, time_base: Fraction) -> int:
    frame.pts = written
    frame.time_base = time_base
    for packet in stream.encode(frame):
        out.mux(packet)
    return written + frame.samples


def _join_mp3(pieces: list[bytes]) -> bytes:
    count = len(pieces)
    frames: list[bytes] = []
    shape: tuple[int, int] | None = None
    concatenable = True
    for index, piece in enumerate(pieces):
        got = 0
        with _open_piece(piece, "mp3", index, count) as (container, stream):
            ctx = stream.codec_context
            piece_shape = (int(ctx.sample_rate or 0), _channels(ctx))
            shape = shape or piece_shape
            concatenable = concatenable and piece_shape == shape
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                got += 1
                if concatenable and _declares_trim(packet):
                    concatenable = False  # gapless trimming: decode and re-encode instead
                if concatenable:
                    frames.append(bytes(packet))
        if not got:
            raise StitchError(f"{_name(index, count)} holds no MPEG audio frames")
    if concatenable:
        return b"".join(frames)
    frames.clear()
    source = _probe_first(pieces, "mp3")
    return _transcode(
        pieces,
        "mp3",
        muxer="mp3",
        codec="libmp3lame",
        rate=source.rate,
        layout="mono" if source.channels == 1 else "stereo",
        sample_format="fltp",
        bit_rate=_mp3_bit_rate(source),
        muxer_options={"id3v2_version": "0"},
    )


def _declares_trim(packet: Any) -> bool:
    """Whether the demuxer asks for samples to be dropped (a LAME tag's delay/padding)."""
    has = getattr(packet, "has_sidedata", None)  # PyAV >= 15; older: assume so, re-encoding is always right
    return True if has is None else bool(has("skip_samples"))


def _mp3_bit_rate(source: _Source) -> int:
    low, high = (32_000, 320_000) if source.rate >= 32_000 else (8_000, 160_000)
    return min(max(source.bit_rate or 128_000, low), high)


def _join_opus(pieces: list[bytes]) -> bytes:
    source = _probe_first(pieces, "opus")
    per_channel = (source.bit_rate or 64_000 * source.channels) // source.channels
    return _transcode(
        pieces,
        "opus",
        muxer="ogg",
        codec="libopus",
        rate=48_000,
        layout="mono" if source.channels == 1 else "stereo",
        sample_format="flt",
        bit_rate=min(max(per_channel, 12_000), 256_000) * min(source.channels, 2),
    )


def _join_flac(pieces: list[bytes]) -> bytes:
    source = _probe_first(pieces, "flac")
    return _transcode(
        pieces,
        "flac",
        muxer="flac",
        codec="flac",
        rate=source.rate,
        layout=source.layout,
        sample_format="s32" if source.sample_format.startswith("s32") else "s16",
    )


_JOINERS: Final = {
    "mp3": _join_mp3,
    "opus": _join_opus,
    "aac": _join_aac,
    "flac": _join_flac,
    "wav": _join_wav,
    "pcm": _join_pcm,
}
