"""Read an upload's container, codec and duration before anything is sent upstream.

Why here and not from the provider: SiliconFlow returns only text, so the gateway itself must know the
duration (billing, ``usage.seconds``, the single subtitle cue) and must refuse garbage before paying for an
upstream call. PyAV reads from the caller's file object, so a spooled upload is never copied into memory.

The duration is the content's, never a header's: FLAC STREAMINFO, MP4 ``mvhd``/``mdhd``, Ogg granule
positions, WAV sizes and Matroska ``Duration`` are claims a file can make up (a FLAC saying 1 s while
holding 600 s, which FFmpeg and the provider decode in full). What the decoder will be fed is measured:

1. WAV: the walk of its chunks FFmpeg makes (``riff.py``); plain PCM is counted from the bytes present,
   without demuxing. A file on which WAV readers would disagree by over a second is refused.
2. Raw MP3/ADTS/FLAC, Ogg, MPEG-PS/TS: the sum of the audio packets' durations, which FFmpeg takes from
   the bitstream (its parsers, the Opus TOC, Vorbis block sizes), less the gapless trim the file declares
   (demux only, no decoding; about 3 us a packet, 90 ms of CPU for a 25 MB MP3). The last packet's
   duration, which Ogg derives from the final granule, counts for no more than the longest before it.
3. MP4 and Matroska, whose packet durations are the muxer's tables: each packet's length from its codec
   (``packet_length.py``); packets FFmpeg flags to be discarded (outside an edit list) do not count.
4. Packets without timing, or a codec without a length rule there: decode and count samples, frame by
   frame, holding none.

Demuxers are limited to ``ALLOWED_DEMUXERS`` and nested opens are disabled, so an upload can never make
FFmpeg read a playlist's URLs or a concat script's local files.
"""

from __future__ import annotations

import io
import math
import struct
from fractions import Fraction
from typing import IO, Any, Final

import av
import msgspec

from .packet_length import CONTAINER_TIMED, PacketLength, packet_length, pcm_frame_bytes
from .riff import WavLayout, read_wav_layout

__all__ = ["ALLOWED_DEMUXERS", "AudioInfo", "UnreadableAudio", "probe_audio"]

#: FFmpeg demuxers that may open an upload (names as FFmpeg lists them). Anything else -- HLS playlists,
#: concat scripts, image pipes -- is refused *before* it can open further files or URLs.
ALLOWED_DEMUXERS: Final = ("wav", "mp3", "mov", "ogg", "matroska", "flac", "mpeg", "mpegts", "aac")

# A WAV with more than this many seconds of audio bytes that FFmpeg does not read (see riff.py) is
# refused: the provider's reader may take them, and it would be billed on FFmpeg's reading.
_MAX_STRAY_SECONDS: Final = 1.0
# Codecs whose first packet only primes the decoder's overlap window and decodes to no samples, though
# FFmpeg gives it a duration (the Vorbis I spec: no audio is returned from the first packet).
_PRIMING_CODECS: Final = frozenset({"vorbis"})
_WEBM_CODECS: Final = frozenset({"opus", "vorbis", "vp8", "vp9", "av1"})
_OPEN_OPTIONS: Final = {
    "format_whitelist": ",".join(ALLOWED_DEMUXERS),
    # No nested opens (external references, playlists) are ever needed for an upload.
    "protocol_whitelist": "none",
}
# FFmpeg reads up to 5 MB / 5 s of packets by default to fill in stream parameters; for a WAV that is
# ~3 ms of CPU per upload (a third of an STT request's cost in benchmarks/RESULTS.md). 8 KiB is enough
# for every supported format's headers; a file it leaves without an audio sample rate is opened again
# with the defaults.
_QUICK_OPTIONS: Final = {**_OPEN_OPTIONS, "probesize": "8192"}
# FFmpeg's codec for integer PCM (wFormatTag 1) in a RIFF WAV, by bits per sample (ff_get_pcm_codec_id).
_PCM_CODECS: Final = {8: "pcm_u8", 16: "pcm_s16le", 24: "pcm_s24le", 32: "pcm_s32le"}
# The wav demuxer hands the first 64 KiB of a PCM data chunk to ff_spdif_probe, which looks for the IEC
# 61937 Pa/Pb words (F872 4E1F, as little-endian bytes) only up to 2 * SPDIF_MAX_OFFSET = 32 KiB unless it
# finds one there: a word must lie within the first 32 KiB to matter. The byte-swapped order is refused
# from the fast path too. (Searching 64 KiB twice was 6 % of a 10 s STT request's CPU.)
_SPDIF_PROBE_BYTES: Final = 2 * 16384
_PLAIN_TAGS: Final = (b"fmt ", b"data")
_SPDIF_SYNC: Final = (b"\x72\xf8\x1f\x4e", b"\xf8\x72\x4e\x1f")


class UnreadableAudio(Exception):
    """The upload is not audio the gateway can measure; ``reason`` is safe to show to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AudioInfo(msgspec.Struct, frozen=True):
    """What the gateway knows about an upload before calling a provider."""

    container: str  # short name: wav, mp3, mp4, m4a, ogg, webm, matroska, flac, mpeg, mpegts, aac
    codec: str  # FFmpeg codec name: pcm_s16le, mp3, aac, opus, vorbis, flac, mp2, ...
    duration: float  # seconds, > 0
    sample_rate: int
    channels: int


def probe_audio(source: IO[bytes] | bytes | bytearray | memoryview) -> AudioInfo:
    """Probe ``source`` (a seekable binary file object, or bytes) and rewind it to 0.

    Raises ``UnreadableAudio`` for empty input, non-audio, unsupported containers or zero duration;
    no PyAV exception escapes.
    """
    fileobj: IO[bytes] = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    try:
        size = _size(fileobj)
        if size == 0:
            raise UnreadableAudio("the audio file is empty")
        return _probe(fileobj, size)
    except UnreadableAudio:
        raise
    except Exception as exc:  # noqa: BLE001 - PyAV/FFmpeg raise many types; none may escape
        raise UnreadableAudio(f"could not read audio: {_describe(exc)}") from exc
    finally:
        try:
            fileobj.seek(0)
        except Exception:  # noqa: BLE001 - a closed or broken file object; nothing to rewind
            pass


def _size(fileobj: IO[bytes]) -> int:
    try:
        fileobj.seek(0, io.SEEK_END)
        size = fileobj.tell()
        fileobj.seek(0)
    except (OSError, ValueError, AttributeError) as exc:
        raise UnreadableAudio("the audio file must be seekable") from exc
    return size


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


def _probe(fileobj: IO[bytes], size: int) -> AudioInfo:
    layout = read_wav_layout(fileobj, size) if _looks_like_wav(fileobj) else None
    if layout is not None and (plain := _plain_pcm_wav(fileobj, layout)) is not None:
        return plain
    with _open(fileobj) as container:
        stream = _audio_stream(container)
        ctx = stream.codec_context
        sample_rate = int(ctx.sample_rate or 0)
        channels = int(getattr(ctx.layout, "nb_channels", 0) or getattr(ctx, "channels", 0) or 0)
        name, codec = _container_name(container), _codec_name(stream)
        demuxer = container.format.name.split(",")[0]
        if demuxer != "wav":
            layout = None
        duration = _pcm_seconds(layout, codec, channels, sample_rate) if layout is not None else None
        if duration is None:
            duration = _measure_packets(container, stream, demuxer, codec, sample_rate)
    if duration is None:
        duration = _decode_duration(fileobj)
    if not duration or not math.isfinite(duration) or duration <= 0:
        raise UnreadableAudio("the audio has zero duration")
    if layout is not None:
        _refuse_stray_audio(layout, duration)
    return AudioInfo(
        container=name, codec=codec, duration=float(duration), sample_rate=sample_rate, channels=channels
    )


def _plain_pcm_wav(fileobj: IO[bytes], layout: WavLayout) -> AudioInfo | None:
    """A little-endian integer-PCM WAV, read without opening FFmpeg; None for anything else.

    FFmpeg's wav demuxer reads such a file exactly as its chunks say: the codec from the bits per
    sample, the rate and channels from ``fmt ``, and (as for every PCM WAV here) the length from the
    data bytes the walk found. Opening FFmpeg only to be told so (format probing, the demuxer's S/PDIF
    check, stream info) was 5-6 million instructions, most of an STT request's. Any other format tag,
    RIFX, an odd width or rate, a walk FFmpeg would not end the same way, or audio that holds an IEC
    61937 (S/PDIF) sync word where FFmpeg looks for one (it would then read AC-3 or DTS) goes to FFmpeg,
    and so does any chunk besides one ``fmt `` then one ``data`` (FFmpeg has rules of its own for LIST,
    ID3, bext and others, some of which refuse a file)."""
    codec = _PCM_CODECS.get(layout.bits)
    if (layout.format_tag != 1 or not layout.little_endian or codec is None or not 1 <= layout.channels <= 8
            or not 1000 <= layout.sample_rate <= 768_000 or layout.tags != _PLAIN_TAGS):
        return None
    fileobj.seek(layout.data_offset)
    head = fileobj.read(_SPDIF_PROBE_BYTES)
    fileobj.seek(0)
    if any(sync in head for sync in _SPDIF_SYNC):
        return None
    duration = _pcm_seconds(layout, codec, layout.channels, layout.sample_rate)
    if not duration:
        return None  # FFmpeg's path says what is wrong
    _refuse_stray_audio(layout, duration)
    return AudioInfo(container="wav", codec=codec, duration=float(duration), sample_rate=layout.sample_rate,
                     channels=layout.channels)


def _looks_like_wav(fileobj: IO[bytes]) -> bool:
    head = fileobj.read(4)
    fileobj.seek(0)
    return head in (b"RIFF", b"RIFX")


def _refuse_stray_audio(layout: WavLayout, duration: float) -> None:
    """Refuse a WAV whose stray bytes would hold over a second at the rate of the audio that was measured
    (not the fmt chunk's byte rate, which the decoder never uses and a file can set to anything)."""
    if not layout.stray_bytes or layout.data_bytes <= 0:
        return
    stray_seconds = layout.stray_bytes * duration / layout.data_bytes
    if stray_seconds > _MAX_STRAY_SECONDS:
        raise UnreadableAudio(
            f"the WAV chunk sizes do not match the file: {stray_seconds:.1f} s of audio bytes lie outside "
            "the data chunk that would be read; export the file again")


def _pcm_seconds(layout: WavLayout, codec: str, channels: int, sample_rate: int) -> float | None:
    """A PCM WAV's seconds from the bytes FFmpeg reads, when its fmt chunk agrees with FFmpeg's reading."""
    width = pcm_frame_bytes(codec, channels)
    if not layout.complete or not width or width != layout.block_align:
        return None
    if (layout.sample_rate, layout.channels) != (sample_rate, channels):
        return None
    return layout.data_bytes // width / sample_rate


def _measure_packets(container: Any, stream: Any, demuxer: str, codec: str, sample_rate: int) -> float | None:
    """Seconds from the demuxed packets; None when only a decode can tell."""
    if demuxer not in CONTAINER_TIMED:
        return _count_packets(container, stream, sample_rate, priming=codec in _PRIMING_CODECS)
    rule = packet_length(codec, stream)
    return None if rule is None else _count_packets(container, stream, sample_rate, rule)


def _open(fileobj: IO[bytes]) -> Any:
    """Open with a short probe; fall back to FFmpeg's full probe when it misses the audio parameters."""
    try:
        container = _open_with(fileobj, _QUICK_OPTIONS)
    except UnreadableAudio:
        return _open_with(fileobj, _OPEN_OPTIONS)
    streams = container.streams.audio
    if streams and streams[0].codec_context.sample_rate:
        return container
    container.close()
    return _open_with(fileobj, _OPEN_OPTIONS)


def _open_with(fileobj: IO[bytes], options: dict[str, str]) -> Any:
    fileobj.seek(0)
    try:
        return av.open(fileobj, mode="r", options=dict(options), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise UnreadableAudio("the file is not a supported audio format (flac, mp3, mp4, mpeg, mpga, m4a, "
                              "ogg, wav or webm)") from exc


def _audio_stream(container: Any) -> Any:
    streams = container.streams.audio
    if not streams:
        raise UnreadableAudio("the file contains no audio stream")
    return streams[0]


def _container_name(container: Any) -> str:
    names = container.format.name.split(",")
    if names[0] == "mov":
        brand = str(container.metadata.get("major_brand", "")).strip().lower()
        return "m4a" if brand.startswith("m4a") else "mp4"
    if names[0] == "matroska":
        codecs = {_codec_name(s) for s in container.streams if s.type in ("audio", "video")}
        return "webm" if codecs and codecs <= _WEBM_CODECS else "matroska"
    return names[0]


def _codec_name(stream: Any) -> str:
    ctx = getattr(stream, "codec_context", None)
    codec = getattr(ctx, "codec", None)
    return str(getattr(codec, "canonical_name", None) or getattr(ctx, "name", None) or "unknown")


def _count_packets(
    container: Any, stream: Any, sample_rate: int, rule: PacketLength | None = None, *, priming: bool = False
) -> float | None:
    """Seconds of audio in the packets the decoder is fed (demux, no decoding).

    Each packet counts its ``rule`` length when given (containers whose durations are the muxer's
    tables), else the duration FFmpeg gave it. Packets flagged for discard (outside an MP4 edit list)
    do not count; the encoder delay and padding the file declares for gapless playback (FFmpeg's
    skip-samples side data: a LAME tag's figures for MP3, pre-skip for Opus, an edit list's start) are
    taken off, so a Xing/LAME MP3 measures exactly what its header says. End padding is taken off where
    the lengths do not already exclude it: MP3, and ``rule`` lengths (Ogg shortens its last packet's
    duration itself). The last packet counts for no more than the longest before it (an Ogg Vorbis
    final granule sets its duration to anything) and, with a ``rule``, for no more than the container
    states (the shorter last AAC frame of an ``stts``). When some packets lack a duration, the timestamp
    span is used instead. 0.0 when there are no packets; None when packets carry no timing at all.
    ``priming``: the first packet decodes to nothing and does not count.
    """
    trim_end = rule is not None or container.format.name == "mp3"
    tb = stream.time_base
    unit = Fraction(1, rule.rate) if rule is not None else tb
    if not tb or not unit:
        return None
    total = longest = count = primed = 0
    trimmed = 0  # samples the decoder drops
    all_timed = True
    first_pts: int | None = None
    last_end: int | None = None
    last_pts: int | None = None
    step = 0  # the last positive gap between timestamps: stands in for an unknown packet duration
    length = trim = dur = 0  # the latest packet's length, end padding and stated duration
    for packet in container.demux(stream):
        if not packet.size or getattr(packet, "is_discard", False):  # the flush packet; an edit list's cut
            continue
        if count:  # the one before was not the last: it counts as it is
            total += length
            longest = max(longest, length)
            if trim:
                trimmed += _samples_within(trim, length, unit, sample_rate)
            if length <= 0 and rule is None:
                all_timed = False
        start_skip, end_skip = _skip_samples(packet)
        trimmed += start_skip
        trim = end_skip if trim_end else 0
        dur = packet.duration or 0
        measured = rule.of(packet) if rule is not None else dur
        if measured is None:
            return None
        length = measured
        if priming and not count:
            primed = length
        count += 1
        pts = packet.pts if packet.pts is not None else packet.dts
        if pts is not None:
            if last_pts is not None and pts > last_pts:
                step = pts - last_pts
            first_pts = pts if first_pts is None else min(first_pts, pts)
            end = pts + (dur if dur > 0 else step)
            last_end = end if last_end is None else max(last_end, end)
            last_pts = pts
    if count == 0:
        return 0.0
    if count == 1 and length <= 0 and rule is None:
        all_timed = False
    length = max(0, min(length, longest) if longest else length)
    if rule is not None and dur > 0:
        stated = int(dur * tb / unit)
        if stated < length - trim:
            length, trim = stated, 0
    total += length - (primed if count > 1 else 0)
    trimmed += _samples_within(trim, length, unit, sample_rate)
    if all_timed:
        seconds = float(total * unit)
    elif rule is None and first_pts is not None and last_end is not None and last_end > first_pts:
        # The final packet's length is unknown; one inter-packet step was added for it.
        seconds = float((last_end - first_pts) * tb)
    else:
        return None
    if sample_rate > 0 and 0 < trimmed / sample_rate < seconds:
        seconds -= trimmed / sample_rate
    return seconds


def _samples_within(trim: int, length: int, unit: Fraction, sample_rate: int) -> int:
    """``trim`` samples, but no more than the packet (``length`` in ``unit``) holds: the decoder's cap."""
    return min(trim, int(length * unit * sample_rate)) if trim > 0 else 0


def _skip_samples(packet: Any) -> tuple[int, int]:
    """(start, end) samples to discard, from AV_PKT_DATA_SKIP_SAMPLES (two little-endian uint32s)."""
    has = getattr(packet, "has_sidedata", None)  # PyAV >= 15
    if has is None or not has("skip_samples"):
        return 0, 0
    data = bytes(packet.get_sidedata("skip_samples"))
    return struct.unpack_from("<II", data) if len(data) >= 8 else (0, 0)


def _decode_duration(fileobj: IO[bytes]) -> float:
    """Last resort: decode the first audio stream and count samples (slow on long files, rarely needed)."""
    with _open(fileobj) as container:
        stream = _audio_stream(container)
        samples = 0.0
        for frame in container.decode(stream):
            if frame.sample_rate:
                samples += frame.samples / frame.sample_rate
        return samples
