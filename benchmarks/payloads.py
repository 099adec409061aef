"""Request bodies the benchmark sends: a TTS JSON body, multipart uploads of generated WAV files.

WAVs are made with the stdlib `wave` module (a 440 Hz tone, 16 kHz mono 16-bit) so the gateway's
probe reads a real container and duration; nothing is downloaded or checked in.
"""

from __future__ import annotations

import io
import math
import secrets
import wave
from array import array

__all__ = ["SPEECH_JSON", "multipart", "wav"]

RATE = 16_000
SPEECH_JSON = (b'{"model":"tts-1","voice":"alloy","input":"The quick brown fox jumps over the lazy dog. '
               b'Benchmarks measure what the gateway costs on the way to the provider."}')


def wav(seconds: int) -> bytes:
    """A mono 16-bit PCM WAV of `seconds` seconds (32 KB per second; 800 s is about 25 MB)."""
    second = array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / RATE)) for i in range(RATE))).tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(second * seconds)
    return out.getvalue()


def multipart(fields: dict[str, str], filename: str, data: bytes, content_type: str = "audio/wav") -> tuple[bytes, str]:
    """`(body, content-type header)` of a multipart/form-data body: text fields first, then the file."""
    boundary = f"bench{secrets.token_hex(12)}"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"Content-Type: {content_type}\r\n\r\n".encode())
    return b"".join([*parts, data, f"\r\n--{boundary}--\r\n".encode()]), f"multipart/form-data; boundary={boundary}"
