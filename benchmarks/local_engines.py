"""The local provider's engines measured through a real gateway: `python -m benchmarks.local_engines`.

Starts `audio-gateway serve` with no provider keys (every request is served by eSpeak NG and the tiny
Whisper model on this machine), then measures, over loopback:

- the first speech and the first transcription after start-up (worker process start and engine load
  included: pools start lazily);
- TTS real-time factor: seconds of audio per second of wall time for a ~4,000-character input, per
  response_format (target: at least 20x);
- STT real-time factor for a 30 s clip (target: at least 5x), median of `--runs`;
- RSS of the gateway process and of each local worker, with the model loaded.

Figures are printed and written to benchmarks/out/local-engines.json. Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import httpx

from .procs import Service, free_port, tree_pids

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
_DROP = ("AUDIO_GATEWAY_", "OPENAI_", "SILICONFLOW_", "AWS_")
TTS_TARGET, STT_TARGET = 20.0, 5.0

CLIP_30S = ("Speech recognition has come a long way. Early systems could only understand a few digits spoken by a "
            "single person. Today, models trained on hundreds of thousands of hours of audio transcribe meetings, "
            "lectures and podcasts in many languages. They still make mistakes with names, numbers and noisy rooms, "
            "so a careful reader checks the transcript. The gateway falls back to a small local model when the "
            "cloud providers cannot be reached. It is slower and less accurate, but the service keeps answering.")
LONG_TEXT = ((CLIP_30S + " ") * 10)[:4000]


def seconds_of(data: bytes, fmt: str) -> float:
    if fmt == "pcm":
        return len(data) / 2 / 24_000
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        return sum(f.samples for f in container.decode(stream)) / stream.sample_rate


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def start(log: Path) -> Service:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP)}
    env.update(AUDIO_GATEWAY_LOCAL="on", AUDIO_GATEWAY_CATALOG=str(REPO / "catalog"), AUDIO_GATEWAY_LOG_LEVEL="WARNING")
    port = free_port()
    service = Service("gateway", [sys.executable, "-m", "audio_gateway.cli", "serve", "--port", str(port)],
                      port=port, log=log, env=env, cwd=REPO)
    service.wait_ready("/healthz", timeout=60)
    return service


def timed(http: httpx.Client, path: str, **kwargs: object) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = http.post(path, **kwargs)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    if response.status_code != 200 or response.headers.get("x-gateway-provider") != "local":
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
    return response, elapsed


def workers(gateway_pid: int) -> list[int]:
    """Local workers run in their own sessions but are still the gateway's children."""
    children = Path(f"/proc/{gateway_pid}/task/{gateway_pid}/children").read_text().split()
    return [int(pid) for pid in children if "providers.local.worker" in cmdline(int(pid))]


def run(runs: int) -> dict[str, object]:
    results: dict[str, object] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp, start(Path(tmp) / "gateway.log") as gateway, \
            httpx.Client(base_url=gateway.url, timeout=300) as http:
        speech = {"model": "tts-1", "voice": "alloy"}
        first_tts = timed(http, "/v1/audio/speech", json={**speech, "input": "Hello there.", "response_format": "mp3"})[1]
        clip = timed(http, "/v1/audio/speech", json={**speech, "input": CLIP_30S, "response_format": "wav"})[0].content
        clip_seconds = seconds_of(clip, "wav")
        files = {"file": ("clip.wav", clip, "audio/wav")}
        first_stt = timed(http, "/v1/audio/transcriptions", data={"model": "whisper-1"}, files=files)[1]
        results["first_request_seconds"] = {"speech": round(first_tts, 3), "transcription": round(first_stt, 3)}

        tts: dict[str, dict[str, float]] = {}
        for fmt in ("mp3", "opus", "aac", "flac", "wav", "pcm"):
            response, elapsed = timed(http, "/v1/audio/speech", json={**speech, "input": LONG_TEXT, "response_format": fmt})
            audio = seconds_of(response.content, fmt)
            tts[fmt] = {"audio_seconds": round(audio, 1), "wall_seconds": round(elapsed, 3), "x_real_time": round(audio / elapsed, 1)}
        results["tts"] = tts

        stt_times = [timed(http, "/v1/audio/transcriptions", data={"model": "whisper-1"}, files=files)[1]
                     for _ in range(runs)]
        median = statistics.median(stt_times)
        results["stt"] = {"clip_seconds": round(clip_seconds, 1), "wall_seconds": [round(t, 3) for t in stt_times],
                          "x_real_time": round(clip_seconds / median, 1)}
        rss = {"gateway": round(rss_mb(gateway.proc.pid), 1)}
        for pid in workers(gateway.proc.pid):
            engine = "whisper" if "whisper" in cmdline(pid) else "espeak"
            rss[f"{engine}_worker_{pid}"] = round(rss_mb(pid), 1)
        results["rss_mb"] = rss
        results["tree_pids"] = len(tree_pids(gateway.proc.pid))
    results["load_after"] = os.getloadavg()[0]
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="transcriptions of the 30 s clip (median is reported)")
    args = parser.parse_args(argv)
    results = run(args.runs)
    worst_tts = min(v["x_real_time"] for v in results["tts"].values())  # type: ignore[union-attr]
    stt = results["stt"]["x_real_time"]  # type: ignore[index]
    results["targets"] = {"tts_x_real_time": [TTS_TARGET, worst_tts >= TTS_TARGET],
                          "stt_x_real_time": [STT_TARGET, stt >= STT_TARGET]}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "local-engines.json").write_text(json.dumps(results, indent=2))

    print(f"machine: {results['cpus']} cores, load {results['load_before']:.2f} before / {results['load_after']:.2f} after")
    first = results["first_request_seconds"]
    print(f"first request after start-up: speech {first['speech']:.2f} s, transcription {first['transcription']:.2f} s")  # type: ignore[index]
    print("TTS (~4,000 characters, through the gateway):")
    for fmt, row in results["tts"].items():  # type: ignore[union-attr]
        print(f"  {fmt:5} {row['audio_seconds']:7.1f} s of audio in {row['wall_seconds']:6.2f} s = {row['x_real_time']:7.1f}x real time")
    print(f"  worst {worst_tts:.1f}x (target >= {TTS_TARGET:g}x): {'PASS' if worst_tts >= TTS_TARGET else 'FAIL'}")
    print(f"STT ({results['stt']['clip_seconds']} s clip, tiny model): runs {results['stt']['wall_seconds']} s, "  # type: ignore[index]
          f"median {stt:.1f}x real time (target >= {STT_TARGET:g}x): {'PASS' if stt >= STT_TARGET else 'FAIL'}")
    print("RSS with the engines loaded (MB): " + ", ".join(f"{k} {v}" for k, v in results["rss_mb"].items()))  # type: ignore[union-attr]
    return 0 if worst_tts >= TTS_TARGET and stt >= STT_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
