"""Server-sent events, incrementally: bytes as they arrive → complete `data:` payloads.

Only what the providers' audio streams use: `data:` lines (joined when an event has several), blank
lines ending an event, comments and other fields ignored, CRLF or LF. A payload is yielded as soon as
its event is complete, so nothing is buffered beyond one event.
"""

from __future__ import annotations

__all__ = ["SseParser"]


class SseParser:
    def __init__(self) -> None:
        self._pending = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        """The payloads of every event completed by `chunk` (`[DONE]` included, as the provider sent it)."""
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        out = []
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if not line:
                if self._data:
                    out.append(b"\n".join(self._data))
                    self._data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
        return out

    def close(self) -> list[bytes]:
        """An event left open at the end of the stream (no final blank line) still counts."""
        out = self.feed(b"\n\n") if self._pending or self._data else []
        return out
