"""probe_audio measures what the decoder outputs, whatever the container claims (issue 20).

The ground truth everywhere is a full FFmpeg decode (``decoded_seconds``): that is what a provider
transcribes and bills. The premises check that each patched file really lies to FFmpeg's header reading.
"""

from __future__ import annotations

import io

import av
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audio_gateway.audio import probe as probe_module
from audio_gateway.audio.packet_length import opus_samples
from audio_gateway.audio.probe import UnreadableAudio, probe_audio
from tests.audio_lies import (
    LIARS,
    decoded_seconds,
    liar,
    mp4_claiming,
    wav_with_data_size,
    wav_with_two_data_chunks,
)
from tests.audio_samples import AUDIO_FORMATS, MORE_FORMATS, SampleSpec, encode, make_audio, make_wav

FRAME = 0.025  # seconds: one AAC frame at 44.1 kHz, the most a decoder's padding adds or a trim takes off
HELD = 119.9  # "claims 1 s, holds 120 s", short of 120 so every codec's padding still bills 120 whole seconds


def header_seconds(data: bytes) -> float | None:
    """What FFmpeg's header reading says (``ffprobe -show_format`` duration)."""
    with av.open(io.BytesIO(data)) as container:
        return container.duration / av.time_base if container.duration else None


@pytest.mark.parametrize("kind", LIARS)
def test_a_header_claiming_one_second_is_not_believed(kind: str) -> None:
    data = liar(kind, HELD)
    assert header_seconds(data) == pytest.approx(1.0, abs=0.01)  # the premise: FFmpeg's header says 1 s ...
    decoded = decoded_seconds(data)
    # ... and its decoder outputs nearly all 119.9 s: it trims an Ogg's final page (up to a second) to the
    # final granule, and, for the scaled stts, discards the 128 packets that now lie before the edit
    # list's start (still stated in true units).
    assert HELD - 3 < decoded < HELD + FRAME
    assert probe_audio(data).duration == pytest.approx(decoded, abs=FRAME)


@pytest.mark.parametrize("kind", ["flac", "ogg_opus", "ogg_vorbis"])
def test_a_header_claiming_more_than_is_there_is_not_billed(kind: str) -> None:
    # (Not MP4: FFmpeg's header reading takes the shortest of mdhd, the stts sum and the edit list.)
    data = liar(kind, 5.0, claimed=600.0)
    assert header_seconds(data) == pytest.approx(600.0, abs=0.01)
    assert probe_audio(data).duration == pytest.approx(decoded_seconds(data), abs=FRAME)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(AUDIO_FORMATS + MORE_FORMATS), seconds=st.floats(0.05, 6.0))
def test_probe_agrees_with_a_full_decode(fmt: str, seconds: float) -> None:
    data = make_audio(fmt, seconds)
    assert probe_audio(data).duration == pytest.approx(decoded_seconds(data), abs=FRAME)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(LIARS), held=st.floats(0.5, 6.0), claimed=st.floats(0.05, 60.0))
def test_probe_agrees_with_a_full_decode_whatever_the_header_claims(kind: str, held: float, claimed: float) -> None:
    data = liar(kind, round(held, 2), round(claimed, 2))
    assert probe_audio(data).duration == pytest.approx(decoded_seconds(data), abs=FRAME)


def test_an_edit_list_cut_is_measured_as_ffmpeg_plays_it() -> None:
    # An edit list is a real instruction, not a claim: FFmpeg (like every MP4 player) returns only the
    # packets inside it, so the provider hears the cut too.
    data = mp4_claiming(make_audio("m4a", 20.0), 1.0, edit_list=True)
    assert decoded_seconds(data) == pytest.approx(1.0, abs=FRAME)
    assert probe_audio(data).duration == pytest.approx(decoded_seconds(data), abs=FRAME)


# --- WAV ------------------------------------------------------------------------------------------------

def test_wav_data_size_shorter_than_its_samples_is_refused() -> None:
    data = wav_with_data_size(claimed=1.0, held=HELD)
    assert decoded_seconds(data) == pytest.approx(1.0)  # FFmpeg stops at the stated size; others read on
    with pytest.raises(UnreadableAudio, match=r"WAV chunk sizes do not match the file: 118\.9 s"):
        probe_audio(data)


def test_a_quiet_tail_is_not_taken_for_chunks() -> None:
    # Samples of 16 and 4 read as chunk headers give sizes that land inside the file: FFmpeg skips them as
    # chunks, but they are no FOURCC chunks, so they count as audio another reader would play.
    quiet = (16).to_bytes(2, "little") + (4).to_bytes(2, "little")
    data = wav_with_data_size(claimed=1.0, held=1.0) + quiet * 8000 * 20
    assert decoded_seconds(data) == pytest.approx(1.0)
    with pytest.raises(UnreadableAudio, match=r"20\.0 s of audio bytes"):
        probe_audio(data)


def test_wav_stray_audio_is_judged_at_the_rate_of_its_samples_not_its_stated_byte_rate() -> None:
    data = bytearray(wav_with_data_size(claimed=1.0, held=20.0))
    assert data[12:16] == b"fmt "
    data[28:32] = (0xFFFFFFFF).to_bytes(4, "little")  # nAvgBytesPerSec: ignored by PCM decoders
    with pytest.raises(UnreadableAudio, match=r"19\.0 s of audio bytes"):
        probe_audio(bytes(data))


def test_wav_with_a_second_data_chunk_readers_would_disagree_on_is_refused() -> None:
    data = wav_with_two_data_chunks(first=30.0, second=1.0)
    assert decoded_seconds(data) == pytest.approx(1.0)  # FFmpeg reads the last chunk, `wave` the first
    with pytest.raises(UnreadableAudio, match="WAV chunk sizes"):
        probe_audio(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(wav_with_data_size(claimed=600.0, held=3.0), id="size-beyond-the-end"),
        pytest.param(wav_with_data_size(claimed=2.5, held=3.0), id="half-a-second-after"),
        pytest.param(wav_with_two_data_chunks(first=0.5, second=3.0), id="short-first-chunk"),
        pytest.param(make_wav(3.0) + b"LIST\x0c\x00\x00\x00INFOISFT\x00\x00\x00\x00", id="trailing-list"),
        pytest.param(make_wav(3.0) + b"TAG" + bytes(125), id="trailing-id3v1"),
        pytest.param(make_wav(3.0, streamed=True), id="streamed"),
        pytest.param(make_audio("wav_adpcm", 3.0), id="adpcm"),
    ],
)
def test_wavs_readers_agree_on_are_measured_as_ffmpeg_reads_them(data: bytes) -> None:
    assert probe_audio(data).duration == pytest.approx(decoded_seconds(data), abs=1e-9)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.lists(st.binary(max_size=9), max_size=3),
    samples=st.integers(1, 20000),
    stated=st.one_of(st.none(), st.integers(0, 60000), st.sampled_from([0, 0xFFFFFFFF])),
    after=st.lists(st.binary(max_size=9), max_size=3),
    tail=st.binary(max_size=40),
)
def test_pcm_wav_layouts_are_counted_as_ffmpeg_reads_them(before, samples, stated, after, tail) -> None:
    """Odd chunk sizes, pad bytes, extra chunks either side, wrong or streamed sizes, junk at the end."""
    pcm = make_wav(samples / 8000, 8000)[44:]
    fmt = make_wav(0.0, 8000)[12:36]

    def chunk(tag: bytes, body: bytes, size: int | None = None) -> bytes:
        return tag + (len(body) if size is None else size).to_bytes(4, "little") + body + b"\0" * (len(body) & 1)

    body = (b"WAVE" + fmt + b"".join(chunk(b"JUNK", b) for b in before) + chunk(b"data", pcm, stated)
            + b"".join(chunk(b"LIST", b) for b in after) + tail)
    data = b"RIFF" + len(body).to_bytes(4, "little") + body
    try:
        measured = probe_audio(data).duration
    except UnreadableAudio as exc:
        if "WAV chunk sizes" in exc.reason:
            return
        try:  # any other refusal: FFmpeg cannot make audio of it either (e.g. a "LIST" under 4 bytes)
            assert decoded_seconds(data) == 0
        except av.FFmpegError:
            pass
        return
    assert measured == pytest.approx(decoded_seconds(data), abs=1e-9)


def test_a_pcm_wav_is_counted_without_demuxing(monkeypatch: pytest.MonkeyPatch) -> None:
    # The STT hot path: the plain WAV's length comes from its chunk sizes and the bytes present.
    def no_demuxing(*args: object, **kwargs: object) -> None:
        raise AssertionError("demuxed a plain PCM WAV")

    monkeypatch.setattr(probe_module, "_count_packets", no_demuxing)
    assert probe_audio(make_wav(10.0)).duration == 10.0
    assert probe_audio(make_wav(10.0, streamed=True)).duration == 10.0


# --- the rules behind MP4 and Matroska -------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["mkv_vorbis", "mkv_flac"])
def test_codecs_without_a_packet_rule_in_matroska_are_decoded(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = probe_module._decode_duration
    monkeypatch.setattr(probe_module, "_decode_duration", lambda f: calls.append(f) or real(f))
    data = make_audio(fmt, 2.0)
    assert probe_audio(data).duration == pytest.approx(decoded_seconds(data), abs=1e-9)
    assert len(calls) == 1


@pytest.mark.parametrize("fmt", ["webm", "webm_live", "m4a", "mp4_opus", "mp4_mp3", "mkv_aac", "mkv_pcm"])
def test_codecs_with_a_packet_rule_are_not_decoded(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "_decode_duration", lambda f: pytest.fail("decoded"))
    data = make_audio(fmt, 2.0)
    assert probe_audio(data).duration == pytest.approx(decoded_seconds(data), abs=FRAME)


OPUS_MODES = [  # (input rate, libopus options): SILK, hybrid and CELT configurations, one to six frames a packet
    (16000, (("application", "voip"), ("frame_duration", "10"))),
    (16000, (("application", "voip"), ("frame_duration", "60"))),
    (24000, (("application", "voip"), ("frame_duration", "40"))),
    (48000, (("application", "audio"), ("frame_duration", "2.5"))),
    (48000, (("application", "audio"), ("frame_duration", "5"))),
    (48000, (("application", "audio"), ("frame_duration", "120"))),
    (48000, (("application", "lowdelay"), ("frame_duration", "20"))),
]


@pytest.mark.parametrize(("rate", "options"), OPUS_MODES,
                         ids=[f"{dict(o)['frame_duration']}ms-{dict(o)['application']}" for _, o in OPUS_MODES])
def test_opus_packet_lengths_match_the_decoder(rate: int, options: tuple) -> None:
    data = encode(SampleSpec("ogg", "libopus", rate, codec_options=options), 1.0)
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        stream.codec_context.flags2 |= 1 << 29  # AV_CODEC_FLAG2_SKIP_MANUAL: whole packets, no pre-skip
        checked = 0
        for packet in container.demux(stream):
            if packet.size:
                frames = stream.codec_context.decode(packet)
                assert opus_samples(bytes(packet)) == sum(f.samples for f in frames)
                checked += 1
    assert checked >= 8


def test_invalid_opus_packets_count_nothing() -> None:
    assert opus_samples(b"") == 0
    assert opus_samples(bytes([0x03])) == 0  # code 3 without its frame-count byte
    assert opus_samples(bytes([0x0B, 49])) == 0  # 49 frames of 60 ms: over the 120 ms a packet may hold
    assert opus_samples(bytes([0xFB, 6])) == 6 * 960  # 6 frames of 20 ms: exactly 120 ms
