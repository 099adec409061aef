"""A local worker process: loads one engine, then runs the jobs the gateway sends over stdin/stdout.

Started by `pool.WorkerPool` as `python -m audio_gateway.providers.local.worker '<engine spec JSON>'`.
It exits when its stdin closes, so it never outlives the gateway process that started it. Library
output that lands on file descriptor 1 is moved to stderr: the protocol owns the real stdout.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import msgspec

from .protocol import (
    Chunk,
    EngineSpec,
    EspeakSpec,
    Failed,
    Finished,
    Job,
    Ready,
    Reply,
    SpeakJob,
    TranscribeJob,
    WhisperSpec,
    decode_job,
    encode_frame,
    read_frame_sync,
)

__all__ = ["main", "job_runner"]

Runner = Callable[[Job], Iterator[Reply]]


def _speech_runner(spec: EspeakSpec) -> Runner:
    from .encode import encode_stream
    from .engines.espeak import EspeakEngine, EspeakFiles, UnknownVoice

    engine = EspeakEngine(EspeakFiles(library=spec.library, data=spec.data))

    def run(job: Job) -> Iterator[Reply]:
        if not isinstance(job, SpeakJob):
            yield Failed("engine", f"a speech worker cannot run {type(job).__name__}")
            return
        try:
            pcm = engine.synthesize(job.text, job.voice, job.words_per_minute)
            for data in encode_stream(pcm, engine.sample_rate, job.response_format):
                yield Chunk(data)
        except UnknownVoice as exc:
            yield Failed("input", str(exc), "voice")
            return
        yield Finished()

    return run


def _transcription_runner(spec: WhisperSpec) -> Runner:
    from .engines.whisper import UnreadableInput, WhisperEngine

    engine = WhisperEngine(Path(spec.model_dir), cpu_threads=spec.cpu_threads, beam_size=spec.beam_size,
                           compute_type=spec.compute_type, open_options=spec.open_options)

    def run(job: Job) -> Iterator[Reply]:
        if not isinstance(job, TranscribeJob):
            yield Failed("engine", f"a transcription worker cannot run {type(job).__name__}")
            return
        try:
            result = engine.transcribe(job.audio, task=job.task, language=job.language, prompt=job.prompt,
                                       temperature=job.temperature, word_timestamps=job.word_timestamps)
        except UnreadableInput as exc:
            yield Failed("input", str(exc), "file")
            return
        yield Finished(transcript=result)

    return run


def job_runner(spec: EngineSpec) -> Runner:
    """The engine loaded once; the returned function runs one job into replies."""
    return _speech_runner(spec) if isinstance(spec, EspeakSpec) else _transcription_runner(spec)


def serve(spec: EngineSpec, jobs: IO[bytes], replies: IO[bytes]) -> None:
    def send(reply: Reply) -> None:
        replies.write(encode_frame(reply))
        replies.flush()

    try:
        run = job_runner(spec)
    except Exception as exc:  # noqa: BLE001 - whatever stops the engine loading is reported, then we exit
        send(Failed("engine", f"{type(exc).__name__}: {exc}"[:500]))
        return
    send(Ready(pid=os.getpid()))
    while (body := read_frame_sync(jobs)) is not None:
        try:
            job = decode_job(body)
        except msgspec.DecodeError as exc:
            send(Failed("engine", f"unreadable job ({exc})"))
            continue
        try:
            for reply in run(job):
                send(reply)
        except Exception as exc:  # noqa: BLE001 - one failed job must not take the loaded engine down
            send(Failed("engine", f"{type(exc).__name__}: {exc}"[:500]))


NICENESS = 10   # inference is batch work: the gateway's event loop must win the CPU (healthz in < 50 ms)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the gateway decides when we stop (stdin closes)
    os.nice(NICENESS)
    spec = msgspec.json.decode(argv[1], type=EngineSpec)
    protocol_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)                                   # stray prints from libraries go to stderr
    sys.stdout = sys.stderr
    try:
        serve(spec, sys.stdin.buffer, protocol_out)
    except BrokenPipeError:                         # the gateway went away mid-job
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
