"""`python -m benchmarks.probe_timing`: what `probe_audio` costs per upload, on the payloads that matter.

The STT hot path probes every request, so its cost is the probe of the benchmark's 10 s 16 kHz mono WAV
(benchmarks/payloads.py); a 25 MB MP3 is the worst common case (every packet is demuxed). Each figure is
the median of repeated probes of the same bytes from a BytesIO (a spooled upload still in memory), after
one warm-up probe. Prints a Markdown table; nothing binds or downloads.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from fractions import Fraction

import av

from audio_gateway.audio.probe import probe_audio

from . import payloads

__all__ = ["main", "mp3_of_size"]


def mp3_of_size(megabytes: float, bitrate: int = 256_000, rate: int = 44_100) -> bytes:
    """A stereo CBR MP3 of a 440 Hz tone of at least `megabytes` MB (about 13 min at 256 kbit/s for 25 MB)."""
    seconds = int(megabytes * 8_000_000 / bitrate) + 1
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="stereo")
        stream.bit_rate = bitrate
        second = payloads.wav(1)[44:]  # 1 s of 16-bit mono at 16 kHz; pitch does not matter here
        for i in range(seconds):
            frame = av.AudioFrame(format="s16", layout="mono", samples=len(second) // 2)
            frame.planes[0].update(second)
            frame.sample_rate = payloads.RATE
            frame.time_base = Fraction(1, payloads.RATE)
            frame.pts = i * payloads.RATE
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def _median_ms(probe: Callable[[], object], repeat: int) -> float:
    probe()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        probe()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.probe_timing", description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=200, help="probes of the WAV (the MP3 gets a tenth, at least 5)")
    args = p.parse_args(argv)
    cases = [("10 s 16 kHz mono WAV (STT payload)", payloads.wav(10), args.repeat),
             ("25 MB MP3 (256 kbit/s stereo)", mp3_of_size(25), max(5, args.repeat // 10))]
    print("| payload | bytes | probed seconds | median probe ms |\n|---|---:|---:|---:|")
    for name, data, repeat in cases:
        info = probe_audio(data)
        ms = _median_ms(lambda data=data: probe_audio(io.BytesIO(data)), repeat)
        print(f"| {name} | {len(data):,} | {info.duration:.3f} | {ms:.3f} |")


if __name__ == "__main__":
    main()
