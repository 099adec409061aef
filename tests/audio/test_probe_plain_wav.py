"""The plain PCM WAV fast path (no FFmpeg open) reads every such file exactly as FFmpeg's path does.

Each file is probed twice: as the gateway does, and with the fast path switched off (FFmpeg opens it);
the two `AudioInfo`s must be equal. Files the fast path must leave to FFmpeg are checked to reach it.
"""

from __future__ import annotations

import io
import math
import struct
import wave

import pytest

from audio_gateway.audio import probe as probe_module
from audio_gateway.audio.probe import AudioInfo, UnreadableAudio, probe_audio


def pcm_wav(seconds: float, *, rate: int = 16000, channels: int = 1, width: int = 2, tail: bytes = b"") -> bytes:
    frames = round(seconds * rate)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        peak = (1 << (8 * width - 1)) - 1
        samples = []
        for i in range(frames):
            value = int(peak * 0.5 * math.sin(2 * math.pi * 440 * i / rate))
            one = (value + 128).to_bytes(1, "little") if width == 1 else value.to_bytes(width, "little", signed=True)
            samples.append(one * channels)
        w.writeframes(b"".join(samples))
    return out.getvalue() + tail


def through_ffmpeg(data: bytes, monkeypatch: pytest.MonkeyPatch) -> AudioInfo:
    with monkeypatch.context() as m:
        m.setattr(probe_module, "_plain_pcm_wav", lambda fileobj, layout: None)
        return probe_audio(data)


def without_ffmpeg(data: bytes, monkeypatch: pytest.MonkeyPatch) -> AudioInfo:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("FFmpeg opened a plain PCM WAV")

    with monkeypatch.context() as m:
        m.setattr(probe_module.av, "open", refuse)
        return probe_audio(data)


@pytest.mark.parametrize(("rate", "channels", "width", "seconds"), [
    (16000, 1, 2, 10.0), (8000, 1, 1, 1.5), (44100, 2, 2, 0.75), (48000, 2, 3, 1.0), (22050, 1, 4, 2.0),
    (96000, 6, 2, 0.25), (11025, 1, 2, 0.0001),
])
def test_the_fast_path_reads_a_pcm_wav_as_ffmpeg_does(rate: int, channels: int, width: int, seconds: float,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    data = pcm_wav(seconds, rate=rate, channels=channels, width=width)
    assert without_ffmpeg(data, monkeypatch) == through_ffmpeg(data, monkeypatch)


def test_a_streamed_size_is_read_to_the_end_as_ffmpeg_does(monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytearray(pcm_wav(2.0))
    data[4:8] = data[40:44] = struct.pack("<I", 0xFFFFFFFF)
    assert without_ffmpeg(bytes(data), monkeypatch) == through_ffmpeg(bytes(data), monkeypatch)


def test_stray_audio_is_refused_on_the_fast_path_too(monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytearray(pcm_wav(3.0))
    data[40:44] = struct.pack("<I", 16000)  # the data chunk claims half a second of the three held
    with pytest.raises(UnreadableAudio, match="WAV chunk sizes"):
        probe_audio(bytes(data))


@pytest.mark.parametrize("sync", [b"\x72\xf8\x1f\x4e", b"\xf8\x72\x4e\x1f"])
def test_audio_with_an_spdif_sync_word_goes_to_ffmpeg(sync: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytearray(pcm_wav(1.0))
    data[44 + 1000:44 + 1004] = sync
    with pytest.raises(UnreadableAudio, match="FFmpeg opened"):
        without_ffmpeg(bytes(data), monkeypatch)
    assert probe_audio(bytes(data)) == through_ffmpeg(bytes(data), monkeypatch)


@pytest.mark.parametrize(("offset", "ffmpeg_opened"), [(32_764, True), (40_000, False)])
def test_only_a_sync_word_within_the_32_kib_ffmpeg_scans_goes_to_ffmpeg(
        offset: int, ffmpeg_opened: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """ff_spdif_probe looks for the first sync word up to 2 * SPDIF_MAX_OFFSET bytes in: the last place it can
    start is 32,764; one further in is plain PCM to FFmpeg as well, which the fast path must agree with."""
    data = bytearray(pcm_wav(2.0))
    data[44 + offset:44 + offset + 4] = b"\x72\xf8\x1f\x4e"
    if ffmpeg_opened:
        with pytest.raises(UnreadableAudio, match="FFmpeg opened"):
            without_ffmpeg(bytes(data), monkeypatch)
    else:
        assert without_ffmpeg(bytes(data), monkeypatch) == through_ffmpeg(bytes(data), monkeypatch)
    assert probe_audio(bytes(data)) == through_ffmpeg(bytes(data), monkeypatch)


@pytest.mark.parametrize("edit", ["list-chunk", "float", "rifx", "zero-samples", "extensible"])
def test_anything_but_plain_pcm_goes_to_ffmpeg(edit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytearray(pcm_wav(1.0))
    if edit == "list-chunk":
        data += b"LIST\x0c\x00\x00\x00INFOISFT\x00\x00\x00\x00"
        data[4:8] = struct.pack("<I", len(data) - 8)
    elif edit == "float":
        data[20:22] = struct.pack("<H", 3)
    elif edit == "rifx":
        data[0:4] = b"RIFX"
    elif edit == "zero-samples":
        data = bytearray(pcm_wav(0.0))
    else:
        data[20:22] = struct.pack("<H", 0xFFFE)
    layout = probe_module.read_wav_layout(io.BytesIO(bytes(data)), len(data))
    assert layout is None or probe_module._plain_pcm_wav(io.BytesIO(bytes(data)), layout) is None
