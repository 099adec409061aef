"""Read an upload's container, codec and duration before anything is sent upstream.

Why here and not from the provider: SiliconFlow returns only text, so the gateway itself must know the
duration (billing, ``usage.seconds``, the single subtitle cue) and must refuse garbage before paying for an
upstream call. PyAV reads from the caller's file object, so a spooled upload is never copied into memory.

Duration policy, cheapest trustworthy source first:

1. the container's own figure (WAV/FLAC/MP4/Ogg/WebM headers), when present and plausible for the file size;
2. otherwise, and always for raw elementary streams (MP3, ADTS AAC) whose header figure may be a bitrate
   guess (far off for VBR MP3 without a Xing header), the sum of the audio packets' durations less the
   gapless trim the file declares (demux only, no decoding; about 2 us a packet);
3. packets without durations but with timestamps: the timestamp span;
4. only when packets carry neither: decode and count samples.

Demuxers are limited to ``ALLOWED_DEMUXERS`` and nested opens are disabled, so an upload can never make
FFmpeg read a playlist's URLs or a concat script's local files.
"""

from __future__ import annotations

import io
import math
import struct
from typing import IO, Any, Final

import av
import msgspec

__all__ = ["ALLOWED_DEMUXERS", "AudioInfo", "UnreadableAudio", "probe_audio"]

#: FFmpeg demuxers that may open an upload (names as FFmpeg lists them). Anything else -- HLS playlists,
#: concat scripts, image pipes -- is refused *before* it can open further files or URLs.
ALLOWED_DEMUXERS: Final = ("wav", "mp3", "mov", "ogg", "matroska", "flac", "mpeg", "mpegts", "aac")

# Formats whose header duration FFmpeg may have guessed from the bitrate (wrong for VBR without a Xing
# header); for these the packets are always counted.
_ESTIMATED: Final = frozenset({"mp3", "aac", "mpegts"})
# A header claiming more seconds than size / this many bytes is not believed (800 bit/s is below any
# codec a recorder would use for speech; a streamed WAV's 0xFFFFFFFF size would claim ~37 hours).
_MIN_BYTES_PER_SECOND: Final = 100
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
    with _open(fileobj) as container:
        stream = _audio_stream(container)
        ctx = stream.codec_context
        sample_rate = int(ctx.sample_rate or 0)
        channels = int(getattr(ctx.layout, "nb_channels", 0) or getattr(ctx, "channels", 0) or 0)
        header = _header_duration(container, stream)
        duration = header if header is not None and header <= size / _MIN_BYTES_PER_SECOND else None
        if duration is None or container.format.name in _ESTIMATED:
            # None: packets carry no timing -- keep a plausible header figure, else decode below.
            duration = _count_packets(container, stream, sample_rate) or duration
        name, codec = _container_name(container), _codec_name(stream)
    if duration is None:
        duration = _decode_duration(fileobj)
    if not duration or not math.isfinite(duration) or duration <= 0:
        raise UnreadableAudio("the audio has zero duration")
    return AudioInfo(
        container=name, codec=codec, duration=float(duration), sample_rate=sample_rate, channels=channels
    )


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


def _header_duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.duration > 0 and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None and container.duration > 0:
        seconds = container.duration / av.time_base
    else:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _count_packets(container: Any, stream: Any, sample_rate: int) -> float | None:
    """Seconds of audio from the packets alone (demux, no decoding).

    Sums packet durations, less the encoder delay and padding the file declares for gapless playback
    (FFmpeg's skip-samples side data: a LAME tag's figures for MP3, pre-skip for Opus), so a Xing/LAME
    MP3 measures exactly what its header says. End padding is taken off for MP3 only: Ogg and Matroska
    already shorten their last packet's duration. When some packets lack a duration, the timestamp span
    is used instead. 0.0 when there are no packets; None when packets carry no timing at all.
    """
    trim_end = container.format.name == "mp3"
    total = 0
    all_timed = True
    first_pts: int | None = None
    last_end: int | None = None
    last_pts: int | None = None
    step = 0  # the last positive gap between timestamps: stands in for an unknown packet duration
    count = 0
    trimmed = 0  # samples the decoder drops
    for packet in container.demux(stream):
        if packet.size == 0:  # the flush packet at the end
            continue
        count += 1
        start_skip, end_skip = _skip_samples(packet)
        trimmed += start_skip + (end_skip if trim_end else 0)
        dur = packet.duration or 0
        if dur > 0:
            total += dur
        else:
            all_timed = False
        pts = packet.pts if packet.pts is not None else packet.dts
        if pts is not None:
            if last_pts is not None and pts > last_pts:
                step = pts - last_pts
            first_pts = pts if first_pts is None else min(first_pts, pts)
            end = pts + (dur if dur > 0 else step)
            last_end = end if last_end is None else max(last_end, end)
            last_pts = pts
    tb = stream.time_base
    if count == 0:
        return 0.0
    if not tb:
        return None
    if all_timed:
        seconds = float(total * tb)
    elif first_pts is not None and last_end is not None and last_end > first_pts:
        # The final packet's length is unknown; one inter-packet step was added for it.
        seconds = float((last_end - first_pts) * tb)
    else:
        return None
    if sample_rate > 0 and 0 < trimmed / sample_rate < seconds:
        seconds -= trimmed / sample_rate
    return seconds


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
