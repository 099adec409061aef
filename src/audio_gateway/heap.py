"""The serving process's garbage collector: start-up objects frozen once the app is up.

Everything made at start-up (imported modules, the compiled catalog, the o200k tokenizer table, the
ledger's engine) lives as long as the process. Left in the collector's generations, every full
collection walks all of it again: at TTS c32 those were 78-226 ms stalls, 13-27 % of the CPU
(benchmarks/PROFILE-NOTES.md). `gc.freeze()` moves them to the permanent generation, which no
collection visits; what requests allocate is collected as before. A prefork parent freezes before
forking (so collections do not copy shared pages); each worker freezes what its own start-up made.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_heap"]


def freeze_startup_heap() -> None:
    """Collect start-up's garbage (it would otherwise be frozen too), then freeze what survives."""
    gc.collect()
    gc.freeze()
