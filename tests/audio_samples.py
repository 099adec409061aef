"""Tiny real audio files for tests, generated in-process (no fixtures on disk, no network).

``make_wav`` uses only the stdlib ``wave`` module; ``make_audio`` encodes a sine tone with PyAV's bundled
FFmpeg (every encoder used here -- libmp3lame, aac, libopus, vorbis, flac, mp2 -- ships in the av wheel).
Results are cached, so a table of tests pays for each encode once.
"""

from __future__ import annotations

import array
import io
import math
import struct
import wave
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

import av

__all__ = ["AUDIO_FORMATS", "MORE_FORMATS", "SAMPLE_SPECS", "SampleSpec", "encode", "make_audio", "make_video_only",
           "make_wav"]


def make_wav(
    seconds: float, sample_rate: int = 16000, *, streamed: bool = False, size_field: int = 0xFFFFFFFF
) -> bytes:
    """A mono 16-bit PCM WAV of a 440 Hz tone.

    ``streamed=True`` overwrites the RIFF and ``data`` chunk sizes with ``size_field`` (0xFFFFFFFF by
    default, 0 also occurs), as a live recorder does when it cannot seek back to fill them in.
    """
    return _make_wav(float(seconds), int(sample_rate), bool(streamed), int(size_field))


@lru_cache(maxsize=64)
def _make_wav(seconds: float, sample_rate: int, streamed: bool, size_field: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(_tone(round(seconds * sample_rate), sample_rate).tobytes())
    data = bytearray(buf.getvalue())
    if streamed:
        data[4:8] = struct.pack("<I", size_field)
        at = data.index(b"data", 12)
        data[at + 4 : at + 8] = struct.pack("<I", size_field)
    return bytes(data)


class SampleSpec(NamedTuple):
    container: str  # FFmpeg muxer
    codec: str  # FFmpeg encoder
    rate: int
    layout: str = "mono"
    muxer_options: tuple[tuple[str, str], ...] = ()
    codec_options: tuple[tuple[str, str], ...] = ()
    silent_lead: float = 0.0  # this fraction of the samples, at the start, is digital silence
    seekable: bool = True  # False: written as a live recorder would, unable to go back and fix headers


#: Every upload format OpenAI lists (flac mp3 mp4 mpeg mpga m4a ogg wav webm) plus awkward variants.
SAMPLE_SPECS: dict[str, SampleSpec] = {
    "mp3": SampleSpec("mp3", "libmp3lame", 44100),
    "mpga": SampleSpec("mp3", "libmp3lame", 22050),  # .mpga is MPEG audio: the same bytes as mp3
    "mp3_noxing": SampleSpec("mp3", "libmp3lame", 44100, muxer_options=(("write_xing", "0"),)),
    # VBR without a Xing header, quiet first: FFmpeg's bitrate-based duration guess runs long.
    "mp3_vbr_noxing": SampleSpec(
        "mp3",
        "libmp3lame",
        44100,
        muxer_options=(("write_xing", "0"),),
        codec_options=(("flags", "+qscale"), ("global_quality", str(2 * 118))),  # lame -V2
        silent_lead=1 / 3,
    ),
    "m4a": SampleSpec("ipod", "aac", 44100),
    "mp4": SampleSpec("mp4", "aac", 44100),
    "ogg": SampleSpec("ogg", "libopus", 48000),
    "ogg_vorbis": SampleSpec("ogg", "vorbis", 44100, layout="stereo"),  # FFmpeg's vorbis needs stereo
    "webm": SampleSpec("webm", "libopus", 48000),
    # A browser MediaRecorder upload: no Duration element, no cues.
    "webm_live": SampleSpec("webm", "libopus", 48000, muxer_options=(("live", "1"),)),
    "flac": SampleSpec("flac", "flac", 16000),
    "flac_streamed": SampleSpec("flac", "flac", 16000, seekable=False),  # STREAMINFO has no length
    "wav": SampleSpec("wav", "pcm_s16le", 16000),
    "mpeg": SampleSpec("mpeg", "mp2", 44100),  # MPEG-1 program stream with MP2 audio
}
AUDIO_FORMATS = tuple(SAMPLE_SPECS)

#: Less common pairings of container and codec, one per way the probe measures a stream (see probe.py):
#: codec rules inside MP4/Matroska (Opus TOC, fixed MPEG/AAC frames, PCM bytes), a decode where no rule
#: exists (Vorbis, FLAC in Matroska), packet durations of a non-PCM WAV.
MORE_SPECS: dict[str, SampleSpec] = {
    "mp4_opus": SampleSpec("mp4", "libopus", 48000),
    "mp4_mp3": SampleSpec("mp4", "libmp3lame", 44100),
    "mkv_aac": SampleSpec("matroska", "aac", 44100),
    "mkv_pcm": SampleSpec("matroska", "pcm_s16le", 16000),
    "mkv_vorbis": SampleSpec("matroska", "vorbis", 44100, layout="stereo"),
    "mkv_flac": SampleSpec("matroska", "flac", 16000),
    "wav_adpcm": SampleSpec("wav", "adpcm_ima_wav", 16000),
}
MORE_FORMATS = tuple(MORE_SPECS)


def make_audio(fmt: str, seconds: float) -> bytes:
    """``seconds`` of a 440 Hz tone encoded as ``fmt`` (a key of ``SAMPLE_SPECS`` or ``MORE_SPECS``)."""
    return _make_audio(fmt, float(seconds))


def _make_audio(fmt: str, seconds: float) -> bytes:
    return encode(SAMPLE_SPECS.get(fmt) or MORE_SPECS[fmt], seconds)


@lru_cache(maxsize=64)
def encode(spec: SampleSpec, seconds: float) -> bytes:
    """``seconds`` of a 440 Hz tone encoded as ``spec`` says."""
    buf = io.BytesIO()
    sink = buf if spec.seekable else _WriteOnly(buf)
    with av.open(sink, "w", format=spec.container, options=dict(spec.muxer_options)) as out:
        stream = out.add_stream(spec.codec, rate=spec.rate, layout=spec.layout)
        options = dict(spec.codec_options)
        if spec.codec == "vorbis":
            options["strict"] = "experimental"
        if options:
            stream.codec_context.options = options
        total = round(seconds * spec.rate)
        tone = _tone(total, spec.rate)
        quiet = round(total * spec.silent_lead)
        tone[:quiet] = array.array("h", bytes(2 * quiet))
        chunk = 1024
        for offset in range(0, total, chunk):
            part = tone[offset : offset + chunk]
            frame = av.AudioFrame(format="s16", layout="mono", samples=len(part))
            frame.planes[0].update(part.tobytes())
            frame.sample_rate = spec.rate
            frame.time_base = Fraction(1, spec.rate)
            frame.pts = offset
            out.mux(stream.encode(frame))  # PyAV resamples to the encoder's format and layout
        out.mux(stream.encode(None))
    return buf.getvalue()


@lru_cache(maxsize=4)
def make_video_only(seconds: float = 0.5) -> bytes:
    """An MP4 with a tiny grey video stream and no audio stream at all."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(max(1, round(seconds * 10))):
            frame = av.VideoFrame(32, 32, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([128]) * plane.buffer_size)
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


class _WriteOnly:
    """A sink PyAV cannot seek in, like a socket or a pipe."""

    def __init__(self, buf: io.BytesIO) -> None:
        self._buf = buf

    def write(self, data: bytes) -> int:
        return self._buf.write(data)


def _tone(samples: int, rate: int) -> array.array:
    """``samples`` of a 440 Hz tone: whole seconds of it repeat exactly (440 cycles a second), so one
    second is computed and repeated (two minutes at 44.1 kHz would take seconds sample by sample)."""
    second = _tone_second(rate)
    repeats = -(-samples // rate)
    return (second * repeats)[:samples] if samples else array.array("h")


@lru_cache(maxsize=8)
def _tone_second(rate: int) -> array.array:
    step = 2 * math.pi * 440.0 / rate
    return array.array("h", (int(8000 * math.sin(step * i)) for i in range(rate)))
