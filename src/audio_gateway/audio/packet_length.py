"""How many samples a demuxed packet decodes to, read from the packet's own bytes, not from the container.

Why: MP4 (``stts`` sample tables) and Matroska (block timestamps, ``DefaultDuration``) state every packet's
duration as the muxer wrote it, and FFmpeg hands those figures on as packet durations and timestamps; the
decoder ignores them and outputs what the bitstream holds. An MP4 whose ``stts`` says 1 s decodes to all
its frames. So for these containers each packet is measured by its codec: the Opus TOC byte, the fixed
frame length of AAC, MPEG audio and AC-3 (learnt by decoding one packet), the byte count of PCM. A codec
without such a rule (Vorbis, FLAC, ALAC in these containers) gets None, and the probe decodes instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final, NamedTuple

import av

__all__ = ["CONTAINER_TIMED", "PacketLength", "opus_samples", "packet_length", "pcm_frame_bytes"]

#: FFmpeg demuxers whose packet durations and timestamps come from the container's tables, not the codec.
#: The others (raw MP3/AAC/FLAC, WAV, Ogg, MPEG-PS/TS) get them from FFmpeg's parsers or codec headers.
CONTAINER_TIMED: Final = frozenset({"mov", "matroska"})
# Codecs whose every packet decodes to the same number of samples, whatever the container says.
_FIXED_FRAME: Final = frozenset({"aac", "mp1", "mp2", "mp3", "ac3"})
_PCM: Final = re.compile(r"pcm_[suf](8|16|24|32|64)(?:le|be)?")
_PCM_8BIT: Final = frozenset({"pcm_alaw", "pcm_mulaw"})
_SKIP_MANUAL: Final = 1 << 29  # AV_CODEC_FLAG2_SKIP_MANUAL: decode a packet whole, whatever trim it carries
# Opus frame lengths at 48 kHz, by TOC configuration (RFC 6716, 3.1): SILK 10/20/40/60 ms, hybrid
# 10/20 ms, CELT 2.5/5/10/20 ms.
_OPUS_FRAME: Final = (480, 960, 1920, 2880) * 3 + (480, 960) * 2 + (120, 240, 480, 960) * 4
_OPUS_MAX: Final = 5760  # 120 ms; a packet claiming more is invalid and decodes to nothing


class PacketLength(NamedTuple):
    """Samples per packet at ``rate``; ``of`` answers None when a packet cannot be measured."""

    rate: int
    of: Callable[[Any], int | None]


def packet_length(codec: str, stream: Any) -> PacketLength | None:
    """The rule for ``codec`` (FFmpeg's name) in ``stream``, or None when there is none."""
    ctx = stream.codec_context
    rate = int(ctx.sample_rate or 0)
    if rate <= 0:
        return None
    if codec == "opus":
        return PacketLength(48000, _opus_packet)
    if codec in _FIXED_FRAME:
        return PacketLength(rate, _FixedFrame(ctx, rate))
    width = pcm_frame_bytes(codec, int(getattr(ctx, "channels", 0) or 0))
    if width:
        return PacketLength(rate, lambda packet: packet.size // width)
    return None


def pcm_frame_bytes(codec: str, channels: int) -> int:
    """Bytes of one sample of every channel for a plain PCM codec (``pcm_s16le``: 2 per channel); else 0."""
    if codec in _PCM_8BIT:
        bits = 8
    else:
        match = _PCM.fullmatch(codec)
        bits = int(match.group(1)) if match else 0
    return bits // 8 * channels if channels > 0 else 0


def opus_samples(data: bytes | memoryview) -> int:
    """Samples at 48 kHz an Opus packet decodes to, from its TOC byte and frame count; 0 if invalid."""
    if not data:
        return 0
    toc = data[0]
    code = toc & 3
    if code == 3:
        if len(data) < 2:
            return 0
        frames = data[1] & 0x3F
    else:
        frames = 1 if code == 0 else 2
    samples = frames * _OPUS_FRAME[toc >> 3]
    return samples if samples <= _OPUS_MAX else 0


def _opus_packet(packet: Any) -> int:
    return opus_samples(memoryview(packet)[:2])


class _FixedFrame:
    """Decodes the first packet measured; every packet is then that many samples long.

    AAC's frame is 1024 or 960 samples (2048 at twice the rate with SBR), MPEG audio's 384, 576 or 1152,
    AC-3's 1536: a stream property the decoder knows exactly, which ``frame_size`` does not always say.
    A first packet that decodes to nothing (corrupt, or a decoder delay) leaves every packet unmeasured.
    """

    def __init__(self, ctx: Any, rate: int) -> None:
        self._ctx = ctx
        self._rate = rate
        self._samples: int | None = None
        self._learnt = False

    def __call__(self, packet: Any) -> int | None:
        if not self._learnt:
            self._learnt = True
            self._samples = self._learn(packet)
        return self._samples

    def _learn(self, packet: Any) -> int | None:
        self._ctx.flags2 = int(self._ctx.flags2) | _SKIP_MANUAL
        try:
            frames = self._ctx.decode(packet)
        except av.FFmpegError:
            return None
        samples = sum(f.samples for f in frames if f.sample_rate)
        rate = next((f.sample_rate for f in frames if f.sample_rate), 0)
        return round(samples * self._rate / rate) if samples and rate else None
