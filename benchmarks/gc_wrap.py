"""`python -m benchmarks.gc_wrap STATS [FREEZE] -- <audio-gateway arguments>`: the gateway, with its garbage collector timed.

Runs `audio_gateway.cli.main` in this process after adding a `gc.callbacks` hook that counts
collections and their wall time per generation; a thread writes the totals to the JSON file STATS
twice a second. If FREEZE names a file, the thread calls `gc.freeze()` once that file appears (the
harness creates it once the gateway answers), which is what the gateway's prefork path does before
forking. For benchmarks only: the gateway itself is not changed.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time

__all__: list[str] = []


def _hook(totals: dict[int, list[float]]):
    started: dict[int, float] = {}

    def callback(phase: str, info: dict) -> None:
        generation = info["generation"]
        if phase == "start":
            started[generation] = time.perf_counter()
        elif generation in started:
            totals[generation][0] += 1
            totals[generation][1] += time.perf_counter() - started.pop(generation)

    return callback


def _reporter(stats: str, freeze: str, totals: dict[int, list[float]]) -> None:
    frozen = False
    while True:
        time.sleep(0.5)
        if freeze and not frozen and os.path.exists(freeze):
            gc.freeze()
            frozen = True
        with open(stats + ".tmp", "w") as f:
            json.dump({"collections": {str(g): n for g, (n, _) in totals.items()},
                       "seconds": {str(g): s for g, (_, s) in totals.items()}, "frozen": frozen}, f)
        os.replace(stats + ".tmp", stats)


def main() -> None:
    split = sys.argv.index("--")
    stats, *rest = sys.argv[1:split]
    totals: dict[int, list[float]] = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
    gc.callbacks.append(_hook(totals))
    threading.Thread(target=_reporter, args=(stats, rest[0] if rest else "", totals), daemon=True).start()
    sys.argv = ["audio-gateway", *sys.argv[split + 1:]]
    from audio_gateway.cli import main as gateway_main
    sys.exit(gateway_main())


if __name__ == "__main__":
    main()
