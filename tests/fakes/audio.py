"""Real, decodable audio for the fakes, encoded once with PyAV and then served from a cache.

The gateway probes, re-muxes and bills audio, so the fakes must return bytes that a real decoder accepts
(and whose duration it can measure), not placeholders.
"""

from __future__ import annotations

import array
import io
import math
import sys
from functools import lru_cache
from typing import Final

import av
import av.error

__all__ = ["AUDIO_FORMATS", "FALLBACK_SECONDS", "probe_duration", "synthesize", "tone_pcm"]

AUDIO_FORMATS: Final = ("mp3", "opus", "aac", "flac", "wav", "pcm")
FALLBACK_SECONDS: Final = 1.0
"""Duration assumed for an upload PyAV can open but not measure or decode."""

# format -> (container, encoder); "pcm" is raw s16le and needs no muxer.
_ENCODERS: Final = {
    "mp3": ("mp3", "libmp3lame"),
    "opus": ("ogg", "libopus"),
    "aac": ("adts", "aac"),
    "flac": ("flac", "flac"),
    "wav": ("wav", "pcm_s16le"),
}
_OPUS_RATES: Final = (48000, 24000, 16000, 12000, 8000)
_TONE_HZ: Final = 440
_AMPLITUDE: Final = 0.3


@lru_cache(maxsize=64)
def tone_pcm(seconds: float, sample_rate: int = 24000) -> bytes:
    """A ~440 Hz sine tone as raw signed 16-bit little-endian mono samples (what OpenAI calls ``pcm``)."""
    total = round(seconds * sample_rate)
    period = max(2, round(sample_rate / _TONE_HZ))  # whole-sample period, so one cycle can be repeated
    peak = int(32767 * _AMPLITUDE)
    cycle = array.array("h", (round(peak * math.sin(2 * math.pi * i / period)) for i in range(period)))
    if sys.byteorder != "little":
        cycle.byteswap()
    whole, rest = divmod(total, period)
    return cycle.tobytes() * whole + cycle[:rest].tobytes()


@lru_cache(maxsize=256)
def synthesize(fmt: str, seconds: float, sample_rate: int = 24000) -> bytes:
    """Encode ``seconds`` of tone as ``fmt`` (one of AUDIO_FORMATS), mono at ``sample_rate``.

    Opus only supports a few rates; others are encoded at 48 kHz (what an Ogg/Opus decoder outputs anyway).
    WAV output carries correct RIFF sizes because the muxer can seek back in memory.
    """
    pcm = tone_pcm(seconds, sample_rate)
    if fmt == "pcm":
        return pcm
    if fmt not in _ENCODERS:
        raise ValueError(f"unsupported audio format {fmt!r}")
    container, codec = _ENCODERS[fmt]
    samples = len(pcm) // 2
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        rate = sample_rate if fmt != "opus" or sample_rate in _OPUS_RATES else 48000
        stream = out.add_stream(codec, rate=rate, layout="mono")
        if samples:
            frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
            plane = frame.planes[0]
            plane.update(pcm.ljust(plane.buffer_size, b"\0"))
            frame.sample_rate = sample_rate
            frame.pts = 0
            for packet in stream.encode(frame):  # PyAV resamples and re-frames for the encoder
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def probe_duration(data: bytes) -> float | None:
    """Seconds of audio in an upload, or None when PyAV cannot read it as audio at all.

    Uses the container's own duration when it has one (cheap: headers only); otherwise decodes.
    A file that opens but then fails to decode counts as FALLBACK_SECONDS rather than an error.
    """
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError, OSError):
        return None
    with container:
        if not container.streams.audio:
            return None
        if container.duration and container.duration > 0:
            return container.duration / av.time_base
        stream = container.streams.audio[0]
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        try:
            samples = sum(frame.samples for frame in container.decode(stream))
        except (av.error.FFmpegError, ValueError):
            return FALLBACK_SECONDS
        return samples / stream.rate if stream.rate else FALLBACK_SECONDS
