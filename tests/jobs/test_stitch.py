"""``stitch_audio``: pieces shaped like OpenAI/SiliconFlow TTS output join into ONE file that decodes fully.

Pieces are encoded in-process with PyAV (and the stdlib ``wave`` module for WAV), the way a TTS provider
sends them: 24 kHz mono speech-like tones, each piece a complete file with its own headers.
"""

from __future__ import annotations

import array
import io
import math
import struct
import wave
from fractions import Fraction
from functools import cache

import av
import pytest

from audio_gateway.jobs.stitch import STITCH_FORMATS, StitchError, content_type_for, stitch_audio

RATE = 24_000
SECONDS = (0.5, 0.7, 0.3)
TOLERANCE = 0.060

# kind -> (muxer, encoder, muxer options)
_ENCODED = {
    "mp3": ("mp3", "libmp3lame", {}),  # ID3v2 tag, then a Xing/LAME header with gapless delay and padding
    "mp3_plain": ("mp3", "libmp3lame", {"write_xing": "0", "id3v2_version": "0"}),  # bare frames
    "mp3_id3": ("mp3", "libmp3lame", {"write_xing": "0", "id3v2_version": "3"}),  # ID3v2, no Xing
    "opus": ("ogg", "libopus", {}),  # Ogg Opus; encoded from 24 kHz, decodes at 48 kHz
    "aac": ("adts", "aac", {}),
    "flac": ("flac", "flac", {}),
}


def _tone(seconds: float, rate: int = RATE, freq: float = 440.0) -> array.array:
    step = 2 * math.pi * freq / rate
    return array.array("h", (int(8000 * math.sin(step * i)) for i in range(round(seconds * rate))))


@cache
def make_piece(kind: str, seconds: float, rate: int = RATE, freq: float = 440.0) -> bytes:
    """One TTS-style response body of ``seconds`` of tone; ``kind`` is a stitch format or a variant."""
    if kind == "pcm":
        return _tone(seconds, rate, freq).tobytes()
    if kind in ("wav", "wav_streamed", "wav_zero"):
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(_tone(seconds, rate, freq).tobytes())
        data = bytearray(buf.getvalue())
        if kind != "wav":  # streamed: the sizes were never filled in
            field = struct.pack("<I", 0xFFFFFFFF if kind == "wav_streamed" else 0)
            data[4:8] = field
            at = data.index(b"data", 12)
            data[at + 4 : at + 8] = field
        return bytes(data)
    muxer, codec, options = _ENCODED[kind]
    buf = io.BytesIO()
    with av.open(buf, "w", format=muxer, options=dict(options)) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        tone = _tone(seconds, rate, freq)
        for offset in range(0, len(tone), 960):
            part = tone[offset : offset + 960]
            frame = av.AudioFrame(format="s16", layout="mono", samples=len(part))
            frame.planes[0].update(part.tobytes())
            frame.sample_rate = rate
            frame.time_base = Fraction(1, rate)
            frame.pts = offset
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def decoded_seconds(data: bytes, fmt: str | None = None) -> float:
    """Decode every frame (PyAV raises on anything it cannot read) and count the samples."""
    options = {"sample_rate": str(RATE), "ch_layout": "mono"} if fmt == "s16le" else {}
    samples = 0
    rate = 0
    with av.open(io.BytesIO(data), format=fmt, options=options) as container:
        assert len(container.streams.audio) == 1
        for frame in container.decode(audio=0):
            samples += frame.samples
            rate = frame.sample_rate
    assert rate
    return samples / rate


def _pieces(kind: str) -> list[bytes]:
    return [make_piece(kind, s, freq=300 + 100 * i) for i, s in enumerate(SECONDS)]


# --- every format ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["mp3", "opus", "flac", "wav", "wav_streamed", "wav_zero"])
def test_stitched_file_decodes_with_summed_duration(kind: str) -> None:
    """Formats whose pieces declare their exact length (gapless MP3/Opus, FLAC, WAV): 1.5 s in all."""
    fmt = kind.split("_")[0]
    joined = stitch_audio(_pieces(kind), fmt)
    assert decoded_seconds(joined) == pytest.approx(sum(SECONDS), abs=TOLERANCE)


@pytest.mark.parametrize("kind", ["mp3", "mp3_plain", "mp3_id3", "opus", "aac", "flac", "wav", "wav_streamed"])
def test_stitched_file_is_one_stream_of_the_pieces_summed(kind: str) -> None:
    """Whatever the format, the result lasts as long as its pieces do when each is decoded alone.

    (Bare MP3 frames and ADTS carry no gapless information, so each piece's own decoded length already
    includes its encoder delay; joining adds nothing and loses nothing.)
    """
    fmt = kind.split("_")[0]
    pieces = _pieces(kind)
    joined = stitch_audio(pieces, fmt)
    expected = sum(decoded_seconds(piece) for piece in pieces)
    assert decoded_seconds(joined) == pytest.approx(expected, abs=TOLERANCE)
    with av.open(io.BytesIO(joined)) as container:  # what the header (or bitrate estimate) claims
        if container.duration is not None:
            assert container.duration / av.time_base == pytest.approx(expected, abs=TOLERANCE)


def test_pcm_is_plain_concatenation() -> None:
    pieces = _pieces("pcm")
    joined = stitch_audio(pieces, "pcm")
    assert joined == b"".join(pieces)
    assert decoded_seconds(joined, "s16le") == pytest.approx(sum(SECONDS), abs=0.001)


def test_mp3_without_gapless_info_is_frame_concatenation() -> None:
    """Bare frames are joined losslessly: no tags or Xing frames are left in the middle."""
    pieces = _pieces("mp3_id3")
    assert all(p.startswith(b"ID3") for p in pieces)
    joined = stitch_audio(pieces, "mp3")
    assert b"ID3" not in joined and b"Xing" not in joined and b"Info" not in joined
    assert joined[0] == 0xFF and joined[1] & 0xE0 == 0xE0  # starts on an MPEG frame sync
    bare = _pieces("mp3_plain")
    assert stitch_audio(bare, "mp3") == b"".join(bare)


def test_mp3_with_gapless_info_is_reencoded_with_one_header() -> None:
    pieces = _pieces("mp3")
    joined = stitch_audio(pieces, "mp3")
    assert joined.count(b"Xing") + joined.count(b"Info") == 1  # a fresh header for the whole file
    with av.open(io.BytesIO(joined)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.sample_rate == RATE
        assert stream.codec_context.layout.nb_channels == 1


def test_mp3_with_differing_rates_is_reencoded() -> None:
    pieces = [make_piece("mp3_plain", 0.5), make_piece("mp3_plain", 0.7, rate=22_050)]
    joined = stitch_audio(pieces, "mp3")
    with av.open(io.BytesIO(joined)) as container:
        assert container.streams.audio[0].codec_context.sample_rate == RATE
    expected = sum(decoded_seconds(p) for p in pieces)
    assert decoded_seconds(joined) == pytest.approx(expected, abs=TOLERANCE)


def test_opus_is_ogg_opus_at_48k() -> None:
    joined = stitch_audio(_pieces("opus"), "opus")
    assert joined.startswith(b"OggS") and joined.count(b"OpusHead") == 1
    with av.open(io.BytesIO(joined)) as container:
        assert container.format.name == "ogg"
        ctx = container.streams.audio[0].codec_context
        assert (ctx.name, ctx.sample_rate, ctx.layout.nb_channels) == ("opus", 48_000, 1)


def test_flac_is_one_stream_with_pieces_rate_and_lossless() -> None:
    pieces = _pieces("flac")
    joined = stitch_audio(pieces, "flac")
    assert joined.startswith(b"fLaC") and joined.count(b"fLaC") == 1
    with av.open(io.BytesIO(joined)) as container:
        assert container.streams.audio[0].codec_context.sample_rate == RATE
        decoded = b"".join(bytes(f.planes[0])[: f.samples * 2] for f in container.decode(audio=0))
    assert decoded == b"".join(_tone(s, freq=300 + 100 * i).tobytes() for i, s in enumerate(SECONDS))


def test_flac_pieces_at_other_rates_are_converted() -> None:
    pieces = [make_piece("flac", 0.5), make_piece("flac", 0.7, rate=16_000)]
    joined = stitch_audio(pieces, "flac")
    assert decoded_seconds(joined) == pytest.approx(1.2, abs=TOLERANCE)


def test_aac_is_adts_concatenation() -> None:
    pieces = _pieces("aac")
    joined = stitch_audio(pieces, "aac")
    assert joined == b"".join(pieces)  # the encoder wrote no tags, so nothing is dropped


def test_aac_tags_are_dropped() -> None:
    piece = make_piece("aac", 0.5)
    id3 = b"ID3\x04\x00\x00\x00\x00\x00\x05" + b"TXXXX"
    id3v1 = b"TAG" + b"\0" * 125
    joined = stitch_audio([id3 + piece + id3v1, id3 + piece], "aac")
    assert joined == piece + piece


# --- wav headers ------------------------------------------------------------------------------------------


def _wav_parts(data: bytes) -> tuple[int, bytes, int, bytes]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    (riff_size,) = struct.unpack_from("<I", data, 4)
    at = data.index(b"data", 12)
    (data_size,) = struct.unpack_from("<I", data, at + 4)
    return riff_size, data[12:at], data_size, data[at + 8 :]


@pytest.mark.parametrize("kind", ["wav", "wav_streamed", "wav_zero"])
def test_wav_header_sizes_are_exact(kind: str) -> None:
    pieces = _pieces(kind)
    joined = stitch_audio(pieces, "wav")
    riff_size, chunks, data_size, samples = _wav_parts(joined)
    assert riff_size == len(joined) - 8
    assert data_size == len(samples) == sum(round(s * RATE) * 2 for s in SECONDS)
    assert samples == b"".join(_tone(s, freq=300 + 100 * i).tobytes() for i, s in enumerate(SECONDS))
    assert chunks[:4] == b"fmt "
    with wave.open(io.BytesIO(joined)) as w:  # the stdlib reader trusts the sizes
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        assert w.getnframes() == data_size // 2


def test_wav_mixed_streamed_and_sized_pieces_with_extra_chunks() -> None:
    plain = make_piece("wav", 0.5)
    # A LIST chunk before the samples and junk after them, and a truncated odd byte at the very end.
    at = plain.index(b"data")
    listed = plain[:at] + b"LIST" + struct.pack("<I", 5) + b"INFO!\0" + plain[at:] + b"JUNKJUNKJUNK"
    listed = listed[:4] + struct.pack("<I", len(listed) - 8) + listed[8:]
    truncated = make_piece("wav_streamed", 0.3) + b"\x01"
    joined = stitch_audio([listed, truncated], "wav")
    riff_size, _, data_size, samples = _wav_parts(joined)
    assert riff_size == len(joined) - 8
    assert data_size == len(samples) == (12_000 + 7_200) * 2


def test_wav_of_different_rates_is_converted_to_the_first_pieces_shape() -> None:
    """A fallback mid-job can mix providers: the job still gets one WAV at piece 1's rate, every piece in it."""
    joined = stitch_audio([make_piece("wav", 0.5), make_piece("wav", 0.5, rate=16_000)], "wav")
    with wave.open(io.BytesIO(joined)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24_000, 1, 2)
        assert wav.getnframes() / 24_000 == pytest.approx(1.0, abs=0.02)


# --- errors and trivia ------------------------------------------------------------------------------------


def test_single_piece_is_returned_unchanged() -> None:
    for fmt, kind in [("mp3", "mp3"), ("wav", "wav_streamed"), ("pcm", "pcm"), ("opus", "opus")]:
        piece = make_piece(kind, 0.3)
        assert stitch_audio([piece], fmt) is piece


@pytest.mark.parametrize("fmt", STITCH_FORMATS)
def test_garbage_piece_is_refused(fmt: str) -> None:
    good = make_piece({"wav": "wav"}.get(fmt, fmt), 0.3)
    garbage = b"this is not audio at all, just an upstream error page " * 4 + b"!"
    with pytest.raises(StitchError, match="piece 2 of 2"):
        stitch_audio([good, garbage], fmt)


@pytest.mark.parametrize("fmt", STITCH_FORMATS)
def test_empty_piece_is_refused(fmt: str) -> None:
    with pytest.raises(StitchError, match="piece 1 of 2 is empty"):
        stitch_audio([b"", b"x"], fmt)


def test_no_pieces_or_unknown_format_is_refused() -> None:
    with pytest.raises(StitchError, match="no audio pieces"):
        stitch_audio([], "mp3")
    with pytest.raises(StitchError, match="ogg"):
        stitch_audio([b"a", b"b"], "ogg")
    assert issubclass(StitchError, ValueError)


def test_aac_of_different_rates_is_reencoded_as_one_stream() -> None:
    joined = stitch_audio([make_piece("aac", 0.3), make_piece("aac", 0.3, rate=16_000)], "aac")
    with av.open(io.BytesIO(joined), format="aac") as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        assert stream.codec_context.sample_rate == 24_000
    # ADTS cannot declare gapless trimming, so each decoded piece keeps its encoder priming (~90 ms at
    # 24 kHz), as a byte-level join of same-shape pieces does; nothing is lost.
    assert 0.6 <= samples / 24_000 <= 0.6 + 3 * 0.09


def test_truncated_adts_frame_is_refused() -> None:
    piece = make_piece("aac", 0.3)
    with pytest.raises(StitchError, match="piece 1 of 2 .*truncated"):
        stitch_audio([piece[:-5], piece], "aac")


def test_wrong_container_is_refused() -> None:
    with pytest.raises(StitchError, match="piece 2 of 2"):
        stitch_audio([make_piece("flac", 0.3), make_piece("wav", 0.3)], "flac")
    with pytest.raises(StitchError, match="piece 2 of 2"):
        stitch_audio([make_piece("opus", 0.3), make_piece("mp3", 0.3)], "opus")


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("mp3", "audio/mpeg"), ("opus", "audio/opus"), ("aac", "audio/aac"), ("flac", "audio/flac"),
     ("wav", "audio/wav"), ("pcm", "audio/pcm")],
)
def test_content_types(fmt: str, content_type: str) -> None:
    assert content_type_for(fmt) == content_type


def test_unknown_content_type() -> None:
    with pytest.raises(ValueError):
        content_type_for("ogg")
