"""`python -m benchmarks.no_ledger <audio-gateway arguments>`: the gateway with its ledger writer dropping rows.

The baseline for `benchmarks.ledger_overhead`: every request still builds its row (metrics and the log line
read it too), but `LedgerWriter.record` throws it away, so nothing is batched, written or spilled. For
benchmarks only: the gateway itself has no switch that turns its books off.
"""

from __future__ import annotations

import sys

from audio_gateway import cli
from audio_gateway.ledger.writer import LedgerWriter

__all__: list[str] = []


def _drop(self: LedgerWriter, row: object) -> None:
    return None


if __name__ == "__main__":
    LedgerWriter.record = _drop  # type: ignore[method-assign,assignment]
    sys.exit(cli.main(sys.argv[1:]))
