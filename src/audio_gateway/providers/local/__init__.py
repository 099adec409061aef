"""The `local` provider: eSpeak NG speech and faster-whisper transcription on the gateway's own machine.

    adapter.py       LocalAdapter: the Adapter protocol over two worker pools (no HTTP)
    availability.py  engines_problem(): why this machine cannot run it ('' when it can), for /readyz
    pool.py          WorkerPool: bounded worker processes, lazily started, busy when full
    protocol.py      the frames a worker and the gateway exchange
    worker.py        the worker process: one engine loaded, jobs run one at a time
    encode.py        PCM → mp3/opus/aac/flac/wav/pcm with PyAV, streamed
    engines/         espeak.py and whisper.py: plain engines, no gateway types
"""

from .adapter import LocalAdapter
from .availability import engines_problem

__all__ = ["LocalAdapter", "engines_problem"]
