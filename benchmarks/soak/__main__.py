"""`python -m benchmarks.soak [--requests N] [--duration S] [--seed N] ...`: run, print, write JSON, exit 1 on FAIL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import SoakConfig
from .report import render
from .runner import run_soak

_DEFAULTS = SoakConfig()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--requests", type=int, default=_DEFAULTS.requests, help="requests in the load phase")
    parser.add_argument("--duration", type=float, default=_DEFAULTS.duration, help="load phase cap, seconds")
    parser.add_argument("--seed", type=int, default=_DEFAULTS.seed, help="request mix and fault sequence")
    parser.add_argument("--rate", type=float, default=_DEFAULTS.rate, help="requests per second at most (0: unpaced)")
    parser.add_argument("--concurrency", type=int, default=_DEFAULTS.concurrency)
    parser.add_argument("--warmup", type=int, default=_DEFAULTS.warmup)
    parser.add_argument("--fault-rate", type=float, default=_DEFAULTS.fault_rate)
    parser.add_argument("--out", type=Path, default=_DEFAULTS.out_dir, help="report.json and process logs")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = SoakConfig(requests=args.requests, duration=args.duration, seed=args.seed, rate=args.rate,
                        concurrency=args.concurrency, warmup=args.warmup, fault_rate=args.fault_rate,
                        out_dir=args.out)
    report = run_soak(config, say=lambda line: print(line, flush=True))
    print(render(report))
    print(f"report: {config.out_dir / 'report.json'}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
