"""The worker pool and adapter on their own: busy, cancellation, crashes, broken engines, fork, bad audio."""

from __future__ import annotations

import asyncio
import io
import os

import msgspec
import pytest

from audio_gateway.catalog.model import LocalEngines, Provider, Timeouts
from audio_gateway.providers.base import SpeechCall, TranscriptionCall, UpstreamFailure
from audio_gateway.providers.local import LocalAdapter
from audio_gateway.providers.local.engines.espeak import bundled_espeak
from audio_gateway.providers.local.pool import PoolBusy, WorkerFailed, WorkerPool
from audio_gateway.providers.local.protocol import Chunk, EspeakSpec, Finished, SpeakJob, WhisperSpec

from .conftest import FOX


def speech_pool(size: int = 1) -> WorkerPool:
    files = bundled_espeak()
    return WorkerPool([msgspec.json.encode(EspeakSpec(library=files.library, data=files.data)).decode()], size)


def job(text: str = FOX, fmt: str = "wav") -> SpeakJob:
    return SpeakJob(text=text, voice="en-us", words_per_minute=175, response_format=fmt)


async def run_to_end(pool: WorkerPool, speak: SpeakJob) -> bytes:
    lease = await pool.lease(1)
    try:
        await lease.send(speak)
        audio = b""
        while isinstance(reply := await lease.receive(), Chunk):
            audio += reply.data
        assert isinstance(reply, Finished)
        lease.finished()
        return audio
    finally:
        await lease.release()


def test_a_worker_is_started_once_and_reused():
    async def main() -> None:
        pool = speech_pool()
        assert pool.idle == 1
        first = await pool.lease(1)
        pid = first._current().process.pid
        await first.send(job())
        while not isinstance(await first.receive(), Finished):
            pass
        first.finished()
        await first.release()
        second = await pool.lease(1)
        assert second._current().process.pid == pid       # the loaded engine served again
        await second.release()                            # no job ran to its end: not clean, so killed
        third = await pool.lease(1)
        assert third._current().process.pid != pid
        await third.release()
        await pool.aclose()

    asyncio.run(main())


def test_sequential_requests_reuse_one_warm_worker_even_in_a_bigger_pool():
    async def main() -> None:
        pool = speech_pool(3)
        for _ in range(3):
            await run_to_end(pool, job())
        assert pool.idle == 3
        live = [w for w in pool._slots._queue if w is not None]   # type: ignore[union-attr]
        assert len(live) == 1
        await pool.aclose()

    asyncio.run(main())


def test_a_full_pool_is_busy_after_the_wait_and_a_released_slot_is_free_at_once():
    async def main() -> None:
        pool = speech_pool(1)
        held = await pool.lease(1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(PoolBusy, match="all 1 workers are busy"):
            await pool.lease(0.2)
        assert 0.15 < loop.time() - started < 1.0
        waiting = asyncio.ensure_future(pool.lease(5))
        await asyncio.sleep(0.05)
        await held.release()
        lease = await asyncio.wait_for(waiting, 5)          # handed over, not timed out
        await lease.release()
        await pool.aclose()

    asyncio.run(main())


def test_cancelling_mid_job_kills_the_worker_and_frees_the_slot():
    async def main() -> None:
        pool = speech_pool(1)
        task = asyncio.ensure_future(run_to_end(pool, job(FOX * 90, "aac")))   # ~10 s of work: still running
        async with asyncio.timeout(30):
            while not pool._leased:                       # the worker started (slowly on a loaded machine)
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        (worker,) = pool._leased
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pool.idle == 1
        await asyncio.wait_for(worker.process.wait(), 5)
        assert worker.process.returncode == -9
        assert len(await run_to_end(pool, job())) > 1000       # a fresh worker serves the next request
        await pool.aclose()

    asyncio.run(main())


def test_a_worker_dying_mid_job_is_a_worker_failure():
    async def main() -> None:
        pool = speech_pool(1)
        lease = await pool.lease(1)
        lease._current().process.kill()
        with pytest.raises(WorkerFailed, match="exited"):
            await lease.send(job())
            await lease.receive()
        await lease.release()
        assert len(await run_to_end(pool, job())) > 1000
        await pool.aclose()

    asyncio.run(main())


def test_an_engine_that_cannot_load_fails_the_lease_with_its_reason(tmp_path):
    spec = WhisperSpec(model_dir=str(tmp_path), cpu_threads=1, beam_size=1, compute_type="int8", open_options={})

    async def main() -> None:
        pool = WorkerPool([msgspec.json.encode(spec).decode()], 1)
        with pytest.raises(WorkerFailed, match="lacks model.bin, config.json"):
            await pool.lease(1)
        assert pool.idle == 1                                # the slot is not lost
        await pool.aclose()

    asyncio.run(main())


def test_a_pool_inherited_through_fork_starts_its_own_workers():
    """`serve --workers N` forks after start-up: a child must not talk to its parent's worker pipes."""
    pool = speech_pool(1)

    async def parent_worker() -> int:
        lease = await pool.lease(1)
        pid = lease._current().process.pid
        await lease.send(job())
        while not isinstance(await lease.receive(), Finished):
            pass
        lease.finished()
        await lease.release()
        return pid

    parent_pid = asyncio.run(parent_worker())
    read, write = os.pipe()
    child = os.fork()
    if child == 0:   # pragma: no cover - runs in the child
        try:
            audio = asyncio.run(run_to_end(pool, job()))
            os.write(write, b"ok" if len(audio) > 1000 and pool._owner == os.getpid() else b"no")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    assert os.read(read, 2) == b"ok" and status == 0
    assert pool._slots is not None and pool._owner == os.getpid() and parent_pid > 0


def _provider(**local: int) -> Provider:
    return Provider(name="local", adapter="local", local=LocalEngines(**local),
                    timeouts=Timeouts(connect_seconds=0.3, first_byte_seconds=30, read_seconds=30))


def test_adapter_maps_a_full_pool_to_busy_and_a_bad_voice_to_400():
    async def main() -> None:
        adapter = LocalAdapter(_provider(speech_workers=1))
        call = SpeechCall(upstream_model="espeak-ng", input=FOX, voice="en-us", response_format="mp3")
        stream = await adapter.speech(call)                  # holds the only worker until read or closed
        with pytest.raises(UpstreamFailure) as busy:
            await adapter.speech(call)
        assert busy.value.kind == "busy"
        assert len(await stream.read_all()) > 1000
        with pytest.raises(UpstreamFailure) as voice:
            await adapter.speech(msgspec.structs.replace(call, voice="no-such-voice"))
        assert (voice.value.kind, voice.value.status, voice.value.param) == ("status", 400, "voice")
        with pytest.raises(UpstreamFailure) as engine:
            await adapter.speech(msgspec.structs.replace(call, upstream_model="piper"))
        assert (engine.value.kind, engine.value.status) == ("status", 404)
        await adapter.aclose()

    asyncio.run(main())


def test_adapter_maps_undecodable_audio_to_400_file():
    """Audio the gateway's probe let through but FFmpeg cannot decode is the caller's fault, not a fallback."""
    async def main() -> None:
        adapter = LocalAdapter(_provider())
        call = TranscriptionCall(upstream_model="whisper", task="transcribe", file=io.BytesIO(b"\x00" * 4096),
                                 filename="x.wav", content_type="audio/wav", duration=1.0)
        with pytest.raises(UpstreamFailure) as caught:
            await adapter.transcribe(call)
        assert (caught.value.kind, caught.value.status, caught.value.param) == ("status", 400, "file")
        await adapter.aclose()

    asyncio.run(main())
