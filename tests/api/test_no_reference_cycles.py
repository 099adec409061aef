"""A served request leaves no reference cycle behind: everything it made is freed by reference counting.

At TTS c32 the collector was about 14 % of the gateway's CPU. Each speech answer used to leave ~37
objects in cycles: a cancelled disconnect watch (CancelledError, traceback, frames, task), the watch's
self-re-arming closure, and uvicorn's request cycle holding serving.py's send wrapper, which closed over
the cycle. Those only a full collection frees. The gateway here runs in this process (a server thread),
so the collector's own record of what it found unreachable says whether that is back.
"""

from __future__ import annotations

import gc
from collections import Counter

from ..conftest import keyed_client

SPEECH = {"model": "tts-1", "input": "No cycles, please.", "voice": "alloy"}
# Types that only the gateway's serving path makes; the test's own client (httpx) is left out of the count.
_SERVING = {"RequestResponseCycle", "StreamedBody", "_DisconnectWatch", "CancelledError", "ScopeState"}


def _cyclic_garbage(make_requests) -> Counter[str]:
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds unreachable goes to gc.garbage, not freed
    try:
        make_requests()
        gc.collect()
        return Counter(type(o).__qualname__ for o in gc.garbage if type(o).__qualname__ in _SERVING)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def test_speech_answers_leave_no_reference_cycles(gateway):
    with keyed_client(gateway.url, "alice") as http:
        http.post("/v1/audio/speech", json=SPEECH).raise_for_status()   # warm: first-use caches are not garbage

        def speak() -> None:
            for _ in range(20):
                response = http.post("/v1/audio/speech", json=SPEECH)
                assert response.status_code == 200 and response.content

        assert _cyclic_garbage(speak) == Counter()


def test_streamed_speech_events_leave_no_reference_cycles(gateway):
    with keyed_client(gateway.url, "alice") as http:
        def speak_sse() -> None:
            for _ in range(10):
                with http.stream("POST", "/v1/audio/speech", json={**SPEECH, "model": "gpt-4o-mini-tts", "stream_format": "sse"}) as response:
                    assert response.status_code == 200
                    assert b"speech.audio.done" in response.read()

        assert _cyclic_garbage(speak_sse) == Counter()
