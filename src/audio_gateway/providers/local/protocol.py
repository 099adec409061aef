"""What the gateway and a local worker process say to each other: length-prefixed msgpack frames.

One job at a time per worker: the gateway sends a `SpeakJob` or `TranscribeJob`; the worker answers
with `Chunk`s (speech), then `Finished`, or `Failed`. `Ready` is the worker's first frame, sent once
its engine is loaded, so a broken engine is known before any job is handed to it.
"""

from __future__ import annotations

import struct
from typing import IO, Literal

import msgspec

from .engines.whisper import WhisperResult

__all__ = [
    "EspeakSpec", "WhisperSpec", "EngineSpec", "SpeakJob", "TranscribeJob", "Job",
    "Ready", "Chunk", "Finished", "Failed", "Reply", "MAX_FRAME", "encode_frame", "frame_length", "decode_job", "decode_reply",
    "read_frame_sync",
]

MAX_FRAME = 64 * 1024 * 1024        # a 25 MB upload fits with room to spare
_HEADER = struct.Struct(">I")


class EspeakSpec(msgspec.Struct, frozen=True, tag="espeak"):
    library: str
    data: str


class WhisperSpec(msgspec.Struct, frozen=True, tag="whisper"):
    model_dir: str
    cpu_threads: int
    beam_size: int
    compute_type: str
    open_options: dict[str, str]


EngineSpec = EspeakSpec | WhisperSpec


class SpeakJob(msgspec.Struct, frozen=True, tag="speak"):
    text: str
    voice: str
    words_per_minute: int
    response_format: str


class TranscribeJob(msgspec.Struct, frozen=True, tag="transcribe"):
    audio: bytes
    task: Literal["transcribe", "translate"]
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    word_timestamps: bool = False


Job = SpeakJob | TranscribeJob


class Ready(msgspec.Struct, frozen=True, tag="ready"):
    pid: int


class Chunk(msgspec.Struct, frozen=True, tag="chunk"):
    data: bytes


class Finished(msgspec.Struct, frozen=True, tag="finished"):
    transcript: WhisperResult | None = None


class Failed(msgspec.Struct, frozen=True, tag="failed"):
    """`input`: the request's own fault (`param` names it); `engine`: the worker could not do it."""

    kind: Literal["input", "engine"]
    message: str
    param: str | None = None


Reply = Ready | Chunk | Finished | Failed

_encoder = msgspec.msgpack.Encoder()
_jobs = msgspec.msgpack.Decoder(Job)
_replies = msgspec.msgpack.Decoder(Reply)


def encode_frame(message: Job | Reply) -> bytes:
    body = _encoder.encode(message)
    return _HEADER.pack(len(body)) + body


def frame_length(header: bytes) -> int:
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes exceeds {MAX_FRAME}")
    return length


def decode_job(body: bytes) -> Job:
    return _jobs.decode(body)


def decode_reply(body: bytes) -> Reply:
    return _replies.decode(body)


def read_frame_sync(stream: IO[bytes]) -> bytes | None:
    """One frame's body from a blocking stream; None at a clean end of input (the gateway went away)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    length = frame_length(header)
    body = stream.read(length)
    if len(body) < length:
        return None
    return body
