"""PCM → every OpenAI `response_format`, encoded with PyAV as the samples arrive.

OpenAI's speech comes at 24 kHz mono (Opus at 48 kHz, its only rate); the engine's rate is resampled
to that. Output goes to a sink without `seek`, so every muxer writes a streamable file: WAV carries
OpenAI's streamed sizes (0xFFFFFFFF), FLAC leaves its total sample count unset, MP3 has no Xing
header, AAC is ADTS, Opus is Ogg. `pcm` is the resampled s16le samples themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

import av
import numpy as np

__all__ = ["ENCODINGS", "OUTPUT_RATE", "encode_stream"]

OUTPUT_RATE: Final = 24_000
# FFmpeg's default AAC coder ("twoloop") runs ~20x real time here; "fast" ~95x, no audible loss on eSpeak.
_CODEC_OPTIONS: Final = {"aac": {"aac_coder": "fast"}}
# response_format → (container, codec, sample rate, bit rate or 0 for the codec's own)
ENCODINGS: Final = {
    "mp3": ("mp3", "libmp3lame", OUTPUT_RATE, 64_000),
    "opus": ("ogg", "libopus", 48_000, 32_000),
    "aac": ("adts", "aac", OUTPUT_RATE, 48_000),
    "flac": ("flac", "flac", OUTPUT_RATE, 0),
    "wav": ("wav", "pcm_s16le", OUTPUT_RATE, 0),
    "pcm": ("", "", OUTPUT_RATE, 0),
}


class _Sink:
    """A write-only file for PyAV: no `seek`, so muxers never go back over bytes already sent."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def _frame(pcm: bytes, rate: int) -> av.AudioFrame:
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
    frame.sample_rate = rate
    return frame


def encode_stream(pcm_chunks: Iterable[bytes], input_rate: int, fmt: str) -> Iterator[bytes]:
    """Encoded bytes of `fmt` for s16le mono PCM at `input_rate`, yielded as each chunk is encoded.

    A chunk can encode to nothing yet (the encoder or Ogg pages buffer); empty pieces are not yielded.
    """
    container_name, codec, rate, bit_rate = ENCODINGS[fmt]
    if not container_name:
        yield from _resampled_pcm(pcm_chunks, input_rate, rate)
        return
    sink = _Sink()
    container: Any = av.open(sink, mode="w", format=container_name)
    try:
        stream: Any = container.add_stream(codec, rate=rate, layout="mono", options=_CODEC_OPTIONS.get(codec, {}))
        if bit_rate:
            stream.bit_rate = bit_rate
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=rate,
                                      frame_size=stream.codec_context.frame_size or None)
        for chunk in pcm_chunks:
            for frame in resampler.resample(_frame(chunk, input_rate)):
                for packet in stream.encode(frame):
                    container.mux(packet)
            if out := sink.take():
                yield out
        for frame in resampler.resample(None):
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    finally:
        container.close()
    if out := sink.take():
        yield out


def _resampled_pcm(pcm_chunks: Iterable[bytes], input_rate: int, rate: int) -> Iterator[bytes]:
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    for chunk in pcm_chunks:
        if out := b"".join(bytes(f.planes[0])[: f.samples * 2] for f in resampler.resample(_frame(chunk, input_rate))):
            yield out
    if out := b"".join(bytes(f.planes[0])[: f.samples * 2] for f in resampler.resample(None)):
        yield out
