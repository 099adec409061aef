"""One contract, every adapter: each provider module runs the same test body against its own fake server.

The fakes speak the providers' real wire formats over loopback HTTP (including their error bodies and
SSE), so what is checked here is the whole translator + runner path: success shapes, every error status,
malformed answers, redaction of the gateway's key, deadlines, the connection bound. A new provider adds
one subclass (its fake, its key, what its wire format can do).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import av
import pytest

from audio_gateway.billing import Unit
from audio_gateway.catalog.model import Provider, Timeouts
from audio_gateway.providers import (
    FailureKind,
    SpeechCall,
    TranscriptDelta,
    TranscriptDone,
    TranscriptionCall,
    UpstreamFailure,
    build_adapter,
)
from audio_gateway.providers.redact import ACCESS_REFUSED, CREDENTIALS_REFUSED

from ..audio_samples import make_wav
from ..conftest import OPENAI_KEY, SILICONFLOW_KEY
from ..fakes import DEFAULT_TRANSCRIPT, Fault

T = Any


def run(make: Callable[[Any], Awaitable[T]], provider: Provider) -> T:
    """Build the adapter inside a fresh loop (pools belong to one loop), run `make(adapter)`, close it."""

    async def main() -> T:
        adapter = build_adapter(provider)
        try:
            return await make(adapter)
        finally:
            await adapter.aclose()

    return asyncio.run(main())


async def speak(adapter: Any, call: SpeechCall) -> tuple[bytes, Any, str]:
    stream = await adapter.speech(call)
    return await stream.read_all(), stream.usage, stream.content_type


def seconds_of(audio: bytes) -> float:
    with av.open(io.BytesIO(audio)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.sample_rate


class AdapterContract:
    adapter: ClassVar[str]
    fixture: ClassVar[str]
    key: ClassVar[str]
    speech_model: ClassVar[str]
    voice: ClassVar[str]
    stt_model: ClassVar[str]
    reports_speech_usage: ClassVar[bool]
    stream_model: ClassVar[str | None]        # a model whose transcripts the provider streams (None: none)

    @pytest.fixture
    def fake(self, request):
        return request.getfixturevalue(self.fixture)

    def provider(self, fake, **overrides: Any) -> Provider:
        fields = dict(name="p", adapter=self.adapter, base_url=fake.url, api_key=self.key,
                      timeouts=Timeouts(connect_seconds=0.5, first_byte_seconds=0.5, read_seconds=0.5))
        fields.update(overrides)
        return Provider(**fields)

    def speech_call(self, **overrides: Any) -> SpeechCall:
        return SpeechCall(**{"upstream_model": self.speech_model, "input": "Hello there.", "voice": self.voice,
                             "response_format": "mp3", **overrides})

    def stt_call(self, **overrides: Any) -> TranscriptionCall:
        return TranscriptionCall(**{"upstream_model": self.stt_model, "task": "transcribe", "file": io.BytesIO(make_wav(1.0)),
                                    "filename": "a.wav", "content_type": "audio/wav", "duration": 1.0, **overrides})

    def failure(self, fake, make: Callable[[Any], Awaitable[Any]], **provider: Any) -> UpstreamFailure:
        with pytest.raises(UpstreamFailure) as caught:
            run(make, self.provider(fake, **provider))
        return caught.value

    # -- success ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("fmt, content_type", [("mp3", "audio/mpeg"), ("wav", "audio/wav"), ("opus", "audio/opus")])
    def test_speech_streams_decodable_audio(self, fake, fmt, content_type):
        audio, _, served_type = run(lambda a: speak(a, self.speech_call(response_format=fmt)), self.provider(fake))
        assert served_type == content_type
        assert seconds_of(audio) == pytest.approx(fake.audio_seconds, abs=0.1)

    def test_speech_sends_the_gateway_key_and_upstream_model(self, fake):
        run(lambda a: speak(a, self.speech_call()), self.provider(fake))
        (sent,) = fake.requests
        assert sent.headers["authorization"] == f"Bearer {self.key}"
        assert sent.json["model"] == self.speech_model

    def test_a_usage_stream_is_unwrapped_into_plain_audio_with_its_usage(self, fake):
        if not self.reports_speech_usage:
            pytest.skip("this provider reports no speech usage")
        audio, usage, _ = run(lambda a: speak(a, self.speech_call(usage_stream=True, response_format="wav")),
                              self.provider(fake))
        assert seconds_of(audio) == pytest.approx(fake.audio_seconds, abs=0.1)
        assert usage.get(Unit.OUTPUT_TOKEN) > 0 and usage.get(Unit.INPUT_TOKEN) > 0

    def test_transcription_returns_the_transcript(self, fake):
        result = run(lambda a: a.transcribe(self.stt_call()), self.provider(fake))
        assert result.transcript.text == DEFAULT_TRANSCRIPT
        assert result.transcript.duration == pytest.approx(1.0, abs=0.05)

    # -- transcript streams ---------------------------------------------------------------------------------

    def stream_call(self, **overrides: Any) -> TranscriptionCall:
        if self.stream_model is None:
            pytest.skip("this provider does not stream transcripts")
        return self.stt_call(upstream_model=self.stream_model, stream=True, **overrides)

    async def stream_events(self, adapter: Any, call: TranscriptionCall) -> list[Any]:
        stream = await adapter.transcribe_stream(call)
        assert stream.first_event is not None and stream.upstream
        return [event async for event in stream]

    def test_a_transcript_stream_is_typed_events_ending_with_done_and_its_usage(self, fake):
        events = run(lambda a: self.stream_events(a, self.stream_call()), self.provider(fake))
        *deltas, done = events
        assert deltas and all(isinstance(e, TranscriptDelta) for e in deltas) and isinstance(done, TranscriptDone)
        assert "".join(e.text for e in deltas) == done.text == DEFAULT_TRANSCRIPT
        assert done.usage.get(Unit.AUDIO_INPUT_TOKEN) > 0 and done.usage.get(Unit.OUTPUT_TOKEN) > 0

    def test_a_transcript_stream_cut_after_its_first_event_fails_from_the_iteration(self, fake):
        call = self.stream_call()
        fake.inject(Fault.RESET_MID_STREAM)
        got: list[Any] = []

        async def make(adapter: Any) -> None:
            stream = await adapter.transcribe_stream(call)
            async for event in stream:
                got.append(event)

        assert self.failure(fake, make).kind in (FailureKind.CONNECT, FailureKind.TIMEOUT)
        assert len(got) == 1 and isinstance(got[0], TranscriptDelta)

    @pytest.mark.parametrize("fault, kind", [(Fault.HTTP_500, FailureKind.STATUS), (Fault.MALFORMED, FailureKind.MALFORMED),
                                             (Fault.HANG, FailureKind.TIMEOUT), (Fault.RESET, FailureKind.CONNECT)])
    def test_a_transcript_stream_that_fails_before_its_first_event_fails_the_call(self, fake, fault, kind):
        call = self.stream_call()
        fake.inject(fault)
        try:
            assert self.failure(fake, lambda a: a.transcribe_stream(call)).kind == kind
        finally:
            fake.release()

    # -- provider errors ------------------------------------------------------------------------------------

    @pytest.mark.parametrize("fault, status", [(Fault.HTTP_400, 400), (Fault.HTTP_404, 404), (Fault.HTTP_413, 413),
                                               (Fault.HTTP_429, 429), (Fault.HTTP_500, 500), (Fault.HTTP_502, 502),
                                               (Fault.HTTP_503, 503), (Fault.HTTP_504, 504)])
    @pytest.mark.parametrize("kind", ["speech", "transcription"])
    def test_every_error_status_is_a_status_failure_with_the_providers_message(self, fake, fault, status, kind):
        fake.inject(fault)
        make = (lambda a: speak(a, self.speech_call())) if kind == "speech" else (lambda a: a.transcribe(self.stt_call()))
        failure = self.failure(fake, make)
        assert (failure.kind, failure.status) == (FailureKind.STATUS, status)
        assert failure.message and "HTTP" not in failure.message[:4]
        if status == 429:
            assert failure.retry_after == 1.0

    @pytest.mark.parametrize("fault, text", [(Fault.HTTP_401, CREDENTIALS_REFUSED), (Fault.HTTP_403, ACCESS_REFUSED)])
    def test_refusals_of_the_gateways_own_credentials_are_replaced(self, fake, fault, text):
        fake.inject(fault)
        failure = self.failure(fake, lambda a: speak(a, self.speech_call()))
        assert failure.message == text

    @pytest.mark.parametrize("fault", [Fault.HTTP_400, Fault.HTTP_429, Fault.HTTP_500])
    def test_a_provider_echoing_the_key_has_it_cut_out(self, fake, fault):
        fake.echo_key = True
        fake.inject(fault)
        failure = self.failure(fake, lambda a: a.transcribe(self.stt_call()))
        assert self.key not in failure.message and self.key not in failure.describe()
        if fault is Fault.HTTP_400:  # every fake quotes the request in its 400s; fixed bodies say nothing
            assert "<redacted>" in failure.message

    # -- broken answers and transport -----------------------------------------------------------------------

    def test_a_malformed_speech_answer_is_malformed(self, fake):
        fake.inject(Fault.MALFORMED)
        assert self.failure(fake, lambda a: speak(a, self.speech_call())).kind == FailureKind.MALFORMED

    def test_a_malformed_transcription_answer_is_malformed(self, fake):
        fake.inject(Fault.MALFORMED)
        assert self.failure(fake, lambda a: a.transcribe(self.stt_call())).kind == FailureKind.MALFORMED

    def test_no_first_byte_within_the_deadline_is_a_timeout(self, fake):
        fake.inject(Fault.HANG)
        try:
            assert self.failure(fake, lambda a: speak(a, self.speech_call())).kind == FailureKind.TIMEOUT
        finally:
            fake.release()

    def test_a_reset_connection_is_a_connect_failure(self, fake):
        fake.inject(Fault.RESET)
        assert self.failure(fake, lambda a: a.transcribe(self.stt_call())).kind == FailureKind.CONNECT

    def test_a_cut_mid_stream_surfaces_as_a_failure_after_the_first_chunk(self, fake):
        fake.inject(Fault.RESET_MID_STREAM)
        fake.audio_seconds = 2.0
        fake.chunk_size = 4096

        async def make(adapter: Any) -> None:
            stream = await adapter.speech(self.speech_call(response_format="wav"))
            assert stream.first_chunk
            await stream.read_all()

        assert self.failure(fake, make).kind in (FailureKind.CONNECT, FailureKind.TIMEOUT)

    def test_a_full_pool_is_busy_not_a_provider_fault(self, fake):
        fake.inject(Fault.HANG)

        async def make(adapter: Any) -> None:
            hung = asyncio.create_task(speak(adapter, self.speech_call()))
            await fake.await_requests(1)
            try:
                await speak(adapter, self.speech_call())
            finally:
                fake.release()
                await asyncio.gather(hung, return_exceptions=True)

        slow_first_byte = Timeouts(connect_seconds=0.3, first_byte_seconds=5, read_seconds=5)
        assert self.failure(fake, make, max_connections=1, timeouts=slow_first_byte).kind == FailureKind.BUSY


class TestOpenAI(AdapterContract):
    adapter = "openai"
    fixture = "fake_openai"
    key = OPENAI_KEY
    speech_model = "gpt-4o-mini-tts"
    voice = "alloy"
    stt_model = "whisper-1"
    reports_speech_usage = True
    stream_model = "gpt-4o-transcribe"


class TestSiliconFlow(AdapterContract):
    adapter = "siliconflow"
    fixture = "fake_siliconflow"
    key = SILICONFLOW_KEY
    speech_model = "FunAudioLLM/CosyVoice2-0.5B"
    voice = "anna"
    stt_model = "FunAudioLLM/SenseVoiceSmall"
    reports_speech_usage = False
    stream_model = None
