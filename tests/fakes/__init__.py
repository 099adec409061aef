"""Fake OpenAI and SiliconFlow audio servers that speak the providers' real wire formats over loopback HTTP.

    fake = FakeOpenAI.start(api_key="sk-test-openai")   # fake.url == "http://127.0.0.1:PORT/v1"
    fake.inject(Fault.HTTP_429, times=2, path="/v1/audio/speech")
    ...                                                 # point the client under test at fake.url
    fake.wait_for_requests(2); fake.requests[-1].json
    fake.reset(); fake.stop()
"""

from .audio import AUDIO_FORMATS, probe_duration, synthesize
from .base import DEFAULT_TRANSCRIPT, FakeProvider
from .faults import Fault
from .http_server import HttpServer, Request, Responder
from .openai_fake import FakeOpenAI, speech_usage, transcription_token_usage
from .recording import RecordedRequest, UploadedFile
from .siliconflow_fake import FakeSiliconFlow

__all__ = [
    "AUDIO_FORMATS",
    "DEFAULT_TRANSCRIPT",
    "FakeOpenAI",
    "FakeProvider",
    "FakeSiliconFlow",
    "Fault",
    "HttpServer",
    "RecordedRequest",
    "Request",
    "Responder",
    "UploadedFile",
    "probe_duration",
    "speech_usage",
    "synthesize",
    "transcription_token_usage",
]
