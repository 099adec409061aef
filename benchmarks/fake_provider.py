"""A fast fake OpenAI audio provider for benchmarks: raw asyncio protocol, minimal HTTP/1.1.

Why not tests/fakes: those are faithful (validation, error bodies, recorded requests) and do a few
thousand requests a second, which would make the *provider* the bottleneck of the direct path and
hide the gateway's cost. This one does only what the wire format needs:

- `POST …/audio/speech` → 32 KiB of `audio/mpeg` (content-length, one write).
- `POST …/audio/transcriptions` (multipart in) → OpenAI JSON, or `verbose_json` when the form asks
  for it (the gateway asks for verbose_json for whisper-1).
- `GET /healthz` → 200, so the harness knows it listens.
- Under a `/slow` path prefix, speech is 2 MiB streamed chunked, 64 KiB every 50 ms, for TTFB and
  memory measurements of long streams.

Requests: keep-alive, pipelining-safe, content-length or chunked bodies (httpx sends chunked multipart
when it cannot size a file), `Expect: 100-continue`. Run it as its own process:
`python -m benchmarks.fake_provider --port N [--processes K]` (K > 1 shares the port with SO_REUSEPORT).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket

__all__ = ["SPEECH_BYTES", "SLOW_CHUNK", "SLOW_CHUNKS", "SLOW_INTERVAL", "serve"]

SPEECH_BYTES = 32 * 1024
SLOW_CHUNK = 64 * 1024
SLOW_CHUNKS = 32  # 2 MiB
SLOW_INTERVAL = 0.05

_TEXT = "The quick brown fox jumps over the lazy dog. It was a bright cold day in April."
_JSON = json.dumps({"text": _TEXT}).encode()
_VERBOSE = json.dumps({
    "task": "transcribe", "language": "english", "duration": 10.0, "text": _TEXT,
    "segments": [
        {"id": 0, "seek": 0, "start": 0.0, "end": 5.0, "text": " The quick brown fox jumps over the lazy dog.",
         "tokens": [50364, 440, 1702], "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.1,
         "no_speech_prob": 0.01},
        {"id": 1, "seek": 0, "start": 5.0, "end": 10.0, "text": " It was a bright cold day in April.",
         "tokens": [50614, 467, 390], "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.1,
         "no_speech_prob": 0.01},
    ],
}).encode()


def _response(status: str, content_type: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode("latin-1") + body


_SPEECH = _response("200 OK", "audio/mpeg", (bytes(range(256)) * (SPEECH_BYTES // 256)))
_STT_JSON = _response("200 OK", "application/json", _JSON)
_STT_VERBOSE = _response("200 OK", "application/json", _VERBOSE)
_HEALTHY = _response("200 OK", "application/json", b'{"ok":true}')
_NOT_FOUND = _response("404 Not Found", "application/json",
                       b'{"error":{"message":"Invalid URL","type":"invalid_request_error","param":null,"code":null}}')
_SLOW_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: audio/mpeg\r\ntransfer-encoding: chunked\r\n\r\n"
_SLOW_PIECE = b"%x\r\n" % SLOW_CHUNK + b"\x55" * SLOW_CHUNK + b"\r\n"


_SAMPLE = 16 * 1024  # of a body, only the start and the end are kept: the form fields live there


def _asks_verbose(body: bytes) -> bool:
    """True when the multipart form's `response_format` field is `verbose_json` (fields precede or follow the file)."""
    at = body.find(b'name="response_format"')
    return at >= 0 and body.find(b"verbose_json", at, at + 200) >= 0


class _Http(asyncio.Protocol):
    """One connection: parse head → read body (length or chunked) → answer; loop for keep-alive."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.head: tuple[bytes, bytes, bool, int, bool] | None = None  # method, path, chunked, length, close
        self.received = 0      # body bytes so far
        self.first = bytearray()  # the body's first _SAMPLE bytes
        self.last = b""           # and its last _SAMPLE bytes
        self.busy = False  # a slow stream is being written; later requests wait in the buffer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._advance()

    def _advance(self) -> None:
        while self.transport is not None and not self.transport.is_closing():
            if self.head is None and not self._parse_head():
                return
            if not self._read_body():
                return
            method, path, _, _, close = self.head  # type: ignore[misc]
            body = bytes(self.first) + self.last if self.received > _SAMPLE else bytes(self.first)
            self.head, self.received, self.first, self.last = None, 0, bytearray(), b""
            if self._answer(method, path, body, close):
                return

    def _parse_head(self) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = bytes(self.buf[:end]).split(b"\r\n")
        del self.buf[:end + 4]
        method, path, _ = lines[0].split(b" ", 2)
        chunked, length, close = False, 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value
            elif name == b"connection":
                close = value == b"close"
            elif name == b"expect" and value == b"100-continue":
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # type: ignore[union-attr]
        self.head = (method, path, chunked, length, close)
        return True

    def _read_body(self) -> bool:
        """Move body bytes from the buffer; True once the whole body is in."""
        method, path, chunked, length, close = self.head  # type: ignore[misc]
        if not chunked:
            take = min(length - self.received, len(self.buf))
            self._keep(take)
            return self.received == length
        while True:
            line_end = self.buf.find(b"\r\n")
            if line_end < 0:
                return False
            size = int(bytes(self.buf[:line_end]).split(b";")[0], 16)
            if size == 0:
                trailer_end = self.buf.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    return False
                del self.buf[:trailer_end + 4]
                return True
            if len(self.buf) < line_end + 2 + size + 2:
                return False
            del self.buf[:line_end + 2]
            self._keep(size)
            del self.buf[:2]

    def _keep(self, size: int) -> None:
        """Consume `size` body bytes from the buffer, keeping only the start and end samples."""
        if len(self.first) < _SAMPLE:
            self.first += self.buf[:min(size, _SAMPLE - len(self.first))]
        if self.received + size > _SAMPLE:
            self.last = (self.last + bytes(self.buf[max(0, size - _SAMPLE):size]))[-_SAMPLE:]
        self.received += size
        del self.buf[:size]

    def _answer(self, method: bytes, path: bytes, body: bytes, close: bool) -> bool:
        """Write the response; True when the connection is handed to a slow stream (or closed)."""
        assert self.transport is not None
        if method == b"POST" and path.endswith(b"/audio/speech"):
            if path.startswith(b"/slow/"):
                self.busy = True
                asyncio.get_running_loop().create_task(self._stream_slowly(close))
                return True
            self.transport.write(_SPEECH)
        elif method == b"POST" and path.endswith((b"/audio/transcriptions", b"/audio/translations")):
            self.transport.write(_STT_VERBOSE if _asks_verbose(body) else _STT_JSON)
        elif path == b"/healthz":
            self.transport.write(_HEALTHY)
        else:
            self.transport.write(_NOT_FOUND)
        if close:
            self.transport.close()
            return True
        return False

    async def _stream_slowly(self, close: bool) -> None:
        transport = self.transport
        assert transport is not None
        transport.write(_SLOW_HEAD + _SLOW_PIECE)
        for _ in range(SLOW_CHUNKS - 1):
            await asyncio.sleep(SLOW_INTERVAL)
            if transport.is_closing():
                return
            transport.write(_SLOW_PIECE)
        transport.write(b"0\r\n\r\n")
        if close:
            transport.close()
            return
        self.busy = False
        self._advance()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(host: str, port: int, reuse_port: bool = False) -> None:
    """Serve until cancelled (SIGTERM/SIGINT end the process)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Http, host, port, reuse_port=reuse_port, backlog=4096)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def _run(host: str, port: int, reuse_port: bool) -> None:
    try:
        import uvloop
        uvloop.run(serve(host, port, reuse_port))
    except ImportError:
        asyncio.run(serve(host, port, reuse_port))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    children = []
    for _ in range(args.processes - 1):
        pid = os.fork()
        if pid == 0:
            _run(args.host, args.port, True)
            os._exit(0)
        children.append(pid)
    _run(args.host, args.port, args.processes > 1)
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
        except ProcessLookupError:
            pass


if __name__ == "__main__":
    main()
