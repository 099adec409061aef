"""probe_audio: right duration for every upload format, refusal of everything else, file left rewound."""

from __future__ import annotations

import io
import random
import tempfile
from fractions import Fraction

import av
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audio_gateway.audio import probe as probe_module
from audio_gateway.audio.probe import AudioInfo, UnreadableAudio, probe_audio
from tests.audio_samples import AUDIO_FORMATS, make_audio, make_video_only, make_wav

TOLERANCE = 0.05  # seconds

# fmt -> (container, codec, sample_rate, channels)
EXPECTED = {
    "mp3": ("mp3", "mp3", 44100, 1),
    "mpga": ("mp3", "mp3", 22050, 1),
    "mp3_noxing": ("mp3", "mp3", 44100, 1),
    "mp3_vbr_noxing": ("mp3", "mp3", 44100, 1),
    "m4a": ("m4a", "aac", 44100, 1),
    "mp4": ("mp4", "aac", 44100, 1),
    "ogg": ("ogg", "opus", 48000, 1),
    "ogg_vorbis": ("ogg", "vorbis", 44100, 2),
    "webm": ("webm", "opus", 48000, 1),
    "webm_live": ("webm", "opus", 48000, 1),
    "flac": ("flac", "flac", 16000, 1),
    "flac_streamed": ("flac", "flac", 16000, 1),
    "wav": ("wav", "pcm_s16le", 16000, 1),
    "mpeg": ("mpeg", "mp2", 44100, 1),
}


def test_every_sample_format_has_an_expectation() -> None:
    assert set(EXPECTED) == set(AUDIO_FORMATS)


@pytest.mark.parametrize("fmt", AUDIO_FORMATS)
@pytest.mark.parametrize("seconds", [1.0, 2.5])
def test_probe_formats(fmt: str, seconds: float) -> None:
    info = probe_audio(make_audio(fmt, seconds))
    container, codec, rate, channels = EXPECTED[fmt]
    assert (info.container, info.codec, info.sample_rate, info.channels) == (container, codec, rate, channels)
    assert abs(info.duration - seconds) <= TOLERANCE, info


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="plain"),
        pytest.param({"streamed": True}, id="streamed-ffffffff"),
        pytest.param({"streamed": True, "size_field": 0}, id="streamed-zero"),
        pytest.param({"streamed": True, "sample_rate": 8000}, id="streamed-8k"),
    ],
)
@pytest.mark.parametrize("seconds", [0.25, 3.7, 61.0])
def test_probe_wav(kwargs: dict, seconds: float) -> None:
    info = probe_audio(make_wav(seconds, **kwargs))
    assert info == AudioInfo("wav", "pcm_s16le", info.duration, kwargs.get("sample_rate", 16000), 1)
    assert abs(info.duration - seconds) <= TOLERANCE


def test_webm_without_duration_header_is_measured_from_packets() -> None:
    data = make_audio("webm_live", 4.0)
    with av.open(io.BytesIO(data)) as container:  # the premise: no Duration element at all
        assert container.duration is None
    assert abs(probe_audio(data).duration - 4.0) <= TOLERANCE


def test_vbr_mp3_without_xing_header_is_measured_from_packets() -> None:
    data = make_audio("mp3_vbr_noxing", 3.0)
    with av.open(io.BytesIO(data)) as container:  # the premise: FFmpeg's bitrate guess is well off
        assert container.duration / av.time_base - 3.0 > 0.1
    assert abs(probe_audio(data).duration - 3.0) <= TOLERANCE


def test_streamed_flac_without_length_is_measured_from_packets() -> None:
    data = make_audio("flac_streamed", 3.0)
    with av.open(io.BytesIO(data)) as container:
        assert container.duration is None
    assert abs(probe_audio(data).duration - 3.0) <= TOLERANCE


class _Packet:
    def __init__(self, pts: int | None, duration: int = 0, size: int = 100) -> None:
        self.pts, self.dts, self.duration, self.size = pts, pts, duration, size


class _Container:
    class format:  # noqa: N801 - mimics PyAV's attribute
        name = "matroska,webm"

    def __init__(self, packets: list[_Packet]) -> None:
        self._packets = packets

    def demux(self, stream: object) -> list[_Packet]:
        return self._packets


class _Stream:
    time_base = Fraction(1, 1000)


def test_packets_without_durations_are_measured_by_their_timestamps() -> None:
    # MediaRecorder WebM: SimpleBlocks with timestamps but no durations; the last one's length is taken
    # to be the step between the ones before it.
    packets = [_Packet(pts) for pts in range(0, 2000, 20)] + [_Packet(None, size=0)]
    assert probe_module._count_packets(_Container(packets), _Stream(), 48000) == pytest.approx(2.0)
    assert probe_module._count_packets(_Container([_Packet(None), _Packet(None)]), _Stream(), 48000) is None
    assert probe_module._count_packets(_Container([]), _Stream(), 48000) == 0.0


def test_decoding_is_the_last_resort(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "_count_packets", lambda *args: None)
    assert abs(probe_audio(make_audio("webm_live", 2.0)).duration - 2.0) <= TOLERANCE


@pytest.mark.parametrize(("fmt", "error"), [("mp3", 1e-9), ("mpga", 1e-9), ("ogg", 0.007), ("webm_live", 0.001)])
@pytest.mark.parametrize("seconds", [2.5, 3.0])
def test_declared_gapless_trim_is_not_counted(fmt: str, error: float, seconds: float) -> None:
    # Packet sums less the LAME tag's delay and padding / Opus pre-skip: a 3.0 s MP3 must not measure
    # 3.03 s, or whole-second usage would round up to 4.
    assert probe_audio(make_audio(fmt, seconds)).duration == pytest.approx(seconds, abs=error)


@pytest.mark.parametrize("fmt", ["wav", "mp3", "webm_live", "m4a"])
def test_file_objects_of_every_kind(fmt: str, tmp_path) -> None:
    data = make_audio(fmt, 1.5)
    path = tmp_path / f"upload.{fmt}"
    path.write_bytes(data)
    spooled = tempfile.SpooledTemporaryFile(max_size=len(data) // 2)  # rolls over to a real file
    spooled.write(data)
    with open(path, "rb") as disk, spooled:
        for source in (io.BytesIO(data), spooled, disk, bytearray(data), memoryview(data)):
            if hasattr(source, "seek"):
                source.seek(7)  # wherever the caller left it, probing starts at 0 ...
            info = probe_audio(source)
            assert abs(info.duration - 1.5) <= TOLERANCE
            if hasattr(source, "tell"):
                assert source.tell() == 0  # ... and leaves it rewound for the upstream call
                assert source.read() == data


def _png() -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="image2pipe") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 8, 8, "rgb24"
        frame = av.VideoFrame(8, 8, "rgb24")
        frame.planes[0].update(bytes(frame.planes[0].buffer_size))
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def _truncated(fmt: str, keep: float) -> bytes:
    data = make_audio(fmt, 2.0)
    return data[: int(len(data) * keep)]


UNREADABLE = {
    "empty": b"",
    "text": b"Hello, this is definitely not audio.\n" * 20,
    "json": b'{"text": "hello"}',
    "png": _png(),
    "jpeg-header": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200),
    "zeros": bytes(4096),
    "random": random.Random(1234).randbytes(8192),
    "hls-playlist": b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nhttp://127.0.0.1:9/a.ts\n#EXT-X-ENDLIST\n",
    "ffconcat": b"ffconcat version 1.0\nfile /etc/passwd\n",
    "video-only-mp4": make_video_only(),
    "wav-no-samples": make_wav(0),
    "wav-header-cut-short": make_wav(1.0)[:30],
    "mp4-without-moov": _truncated("mp4", 0.5),
}


@pytest.mark.parametrize("data", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_unreadable(data: bytes) -> None:
    source = io.BytesIO(data)
    with pytest.raises(UnreadableAudio) as caught:
        probe_audio(source)
    assert caught.value.reason and str(caught.value) == caught.value.reason
    assert source.tell() == 0


def test_reasons_say_what_is_wrong() -> None:
    reasons = {}
    for key in ("empty", "png", "video-only-mp4", "wav-no-samples"):
        with pytest.raises(UnreadableAudio) as caught:
            probe_audio(UNREADABLE[key])
        reasons[key] = caught.value.reason
    assert "empty" in reasons["empty"]
    assert "not a supported audio format" in reasons["png"]
    assert "no audio stream" in reasons["video-only-mp4"]
    assert "zero duration" in reasons["wav-no-samples"]


def test_unseekable_source_is_refused() -> None:
    class Pipe(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:  # noqa: ANN001
            return 0

    with pytest.raises(UnreadableAudio, match="seekable"):
        probe_audio(Pipe())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=3000))
def test_arbitrary_bytes_never_escape_as_pyav_errors(data: bytes) -> None:
    try:
        info = probe_audio(data)
    except UnreadableAudio:
        return
    assert info.duration > 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(AUDIO_FORMATS),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(1, 255)), max_size=8),
)
def test_damaged_real_files_are_measured_or_refused(fmt: str, cut: float, flips: list) -> None:
    data = bytearray(make_audio(fmt, 1.0))
    for where, xor in flips:
        data[int(where * len(data))] ^= xor
    data = data[: int(len(data) * cut)]
    try:
        info = probe_audio(bytes(data))
    except UnreadableAudio:
        return
    # A damaged header may still be believed, but never beyond what the file size makes plausible.
    assert 0 < info.duration <= len(data) / 100
