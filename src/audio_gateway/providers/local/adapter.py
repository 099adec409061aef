"""The `local` adapter: the gateway's speech and transcription calls, served by the local worker pools.

Thin on purpose: it turns a `SpeechCall` / `TranscriptionCall` into a worker job, and worker replies
into an `AudioStream` / `TranscriptionResult` or an `UpstreamFailure` routing already understands — a full pool
is `busy` (fall back, or 429), a worker that dies or fails is `connect`, a slow one `timeout`, audio
it cannot decode a 400 naming `file`. The engines know nothing of the gateway.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import IO

import msgspec

from ...audio.formats import speech_content_type
from ...audio.probe import ALLOWED_DEMUXERS
from ...audio.transcript import Segment, Transcript, Word
from ...catalog.model import LocalEngines, Provider
from ..base import AudioStream, SpeechCall, TranscriptionCall, TranscriptionResult, TranscriptStream, UpstreamFailure
from .availability import whisper_model_dir
from .engines.espeak import bundled_espeak, words_per_minute
from .engines.whisper import WhisperResult
from .pool import Lease, PoolBusy, WorkerFailed, WorkerPool
from .protocol import Chunk, EspeakSpec, Failed, Finished, Reply, SpeakJob, TranscribeJob, WhisperSpec

__all__ = ["LocalAdapter", "SPEECH_ENGINE", "TRANSCRIPTION_ENGINE"]

SPEECH_ENGINE = "espeak-ng"          # the `upstream_model` of a local TTS model
TRANSCRIPTION_ENGINE = "whisper"     # the `upstream_model` of a local STT model
_OPEN_OPTIONS = {"format_whitelist": ",".join(ALLOWED_DEMUXERS), "protocol_whitelist": "none"}


def _speech_pool(settings: LocalEngines) -> WorkerPool:
    files = bundled_espeak()
    spec = EspeakSpec(library=files.library, data=files.data)
    return WorkerPool([msgspec.json.encode(spec).decode()], settings.speech_workers)


def _transcription_pool(settings: LocalEngines) -> WorkerPool:
    spec = WhisperSpec(model_dir=str(whisper_model_dir(settings)), cpu_threads=settings.whisper_cpu_threads,
                       beam_size=settings.whisper_beam_size, compute_type=settings.whisper_compute_type,
                       open_options=_OPEN_OPTIONS)
    return WorkerPool([msgspec.json.encode(spec).decode()], settings.transcription_workers)


def _read_all(file: IO[bytes]) -> bytes:
    file.seek(0)
    return file.read()


class LocalAdapter:
    def __init__(self, provider: Provider):
        self.provider = provider
        settings = provider.local or LocalEngines()
        self._settings = settings
        self._speech: WorkerPool | None = None
        self._transcription: WorkerPool | None = None

    def _pool(self, kind: str) -> WorkerPool:
        """Built on first use: a provider whose engines are missing is never called (not configured)."""
        try:
            if kind == "speech":
                self._speech = self._speech or _speech_pool(self._settings)
                return self._speech
            self._transcription = self._transcription or _transcription_pool(self._settings)
            return self._transcription
        except (ImportError, RuntimeError) as exc:
            raise UpstreamFailure("connect", f"{self.provider.name}: {kind} engine unavailable ({exc})") from None

    async def _lease(self, pool: WorkerPool) -> Lease:
        try:
            return await pool.lease(self.provider.timeouts.connect_seconds)
        except PoolBusy as exc:
            raise UpstreamFailure("busy", f"{self.provider.name}: {exc}") from None
        except WorkerFailed as exc:
            raise UpstreamFailure("connect", f"{self.provider.name}: {exc}") from None

    async def _receive(self, lease: Lease, seconds: float) -> Reply:
        try:
            async with asyncio.timeout(seconds):
                reply = await lease.receive()
        except TimeoutError:
            raise UpstreamFailure("timeout", f"{self.provider.name} did not answer within {seconds:g} s") from None
        except WorkerFailed as exc:
            raise UpstreamFailure("connect", f"{self.provider.name}: {exc}") from None
        if isinstance(reply, Failed):
            raise self._failure(reply)
        if isinstance(reply, Finished):
            lease.finished()
        return reply

    def _failure(self, failed: Failed) -> UpstreamFailure:
        if failed.kind == "input":
            return UpstreamFailure("status", failed.message, status=400, param=failed.param, code="invalid_value",
                                   error_type="invalid_request_error")
        return UpstreamFailure("malformed", f"{self.provider.name}: {failed.message}")

    async def speech(self, call: SpeechCall) -> AudioStream:
        if call.upstream_model != SPEECH_ENGINE:
            raise UpstreamFailure("status", f"the local provider has no speech engine {call.upstream_model!r}", status=404)
        pool = self._pool("speech")
        voice = call.voice if isinstance(call.voice, str) else call.voice.get("id", "")
        lease = await self._lease(pool)
        try:
            await lease.send(SpeakJob(text=call.input, voice=voice, words_per_minute=words_per_minute(call.speed),
                                      response_format=call.response_format))
            first = await self._receive(lease, self.provider.timeouts.first_byte_seconds)
        except WorkerFailed as exc:
            await lease.release()
            raise UpstreamFailure("connect", f"{self.provider.name}: {exc}") from None
        except BaseException:
            await lease.release()
            raise
        first_chunk = first.data if isinstance(first, Chunk) else b""
        rest = self._rest(lease) if isinstance(first, Chunk) else _nothing()
        return AudioStream(speech_content_type(call.response_format), first_chunk, rest, lease.release)

    async def _rest(self, lease: Lease) -> AsyncIterator[bytes]:
        try:
            while isinstance(reply := await self._receive(lease, self.provider.timeouts.read_seconds), Chunk):
                yield reply.data
        finally:
            await lease.release()

    async def transcribe(self, call: TranscriptionCall) -> TranscriptionResult:
        if call.upstream_model != TRANSCRIPTION_ENGINE:
            raise UpstreamFailure("status", f"the local provider has no transcription engine {call.upstream_model!r}",
                                  status=404)
        pool = self._pool("transcription")
        audio = await asyncio.to_thread(_read_all, call.file)
        job = TranscribeJob(audio=audio, task=call.task, language=call.language, prompt=call.prompt,
                            temperature=call.temperature, word_timestamps="word" in call.timestamp_granularities)
        lease = await self._lease(pool)
        try:
            await lease.send(job)
            reply = await self._receive(lease, self.provider.timeouts.first_byte_seconds)
        except WorkerFailed as exc:
            raise UpstreamFailure("connect", f"{self.provider.name}: {exc}") from None
        finally:
            await lease.release()
        if not isinstance(reply, Finished) or reply.transcript is None:
            raise UpstreamFailure("malformed", f"{self.provider.name}: unexpected reply {type(reply).__name__}")
        # No usage to report: the local models bill per character / per probed second, which the gateway measures.
        return TranscriptionResult(to_transcript(reply.transcript, task=call.task,
                                                 with_words="word" in call.timestamp_granularities))

    async def transcribe_stream(self, call: TranscriptionCall) -> TranscriptStream:
        """Whisper here transcribes whole: the events are made from the finished transcript."""
        result = await self.transcribe(call)
        return TranscriptStream.of_transcript(result.transcript, result.usage)

    async def aclose(self) -> None:
        for pool in (self._speech, self._transcription):
            if pool is not None:
                await pool.aclose()


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield  # an empty async generator


def to_transcript(result: WhisperResult, *, task: str, with_words: bool) -> Transcript:
    """The engine's result as the gateway's transcript (segments in OpenAI's shape, words if asked)."""
    segments = tuple(Segment(id=s.id, seek=s.seek, start=s.start, end=s.end, text=s.text, tokens=s.tokens,
                             temperature=s.temperature, avg_logprob=s.avg_logprob,
                             compression_ratio=s.compression_ratio, no_speech_prob=s.no_speech_prob)
                     for s in result.segments)
    words = tuple(Word(word=w.word, start=w.start, end=w.end) for s in result.segments for w in s.words or ()) \
        if with_words else None
    return Transcript(text=result.text, language=result.language, duration=result.duration, segments=segments,
                      words=words, task="translate" if task == "translate" else "transcribe")
