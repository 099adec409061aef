"""Start `audio-gateway serve` as a subprocess pointed at the fake provider.

The gateway runs exactly as an operator would run it (the CLI, the repository's catalog, client
keys on, INFO access logging to a file), with OpenAI's base URL aimed at the fake and SiliconFlow
left unconfigured, so every request takes the primary route with no fallback. Its data directory
(where the embedded SQLite ledger lives) is a fresh one in the benchmark's output directory;
`ledger_state` says afterwards whether a ledger was written there.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .procs import Service, free_port

__all__ = ["GATEWAY_KEY", "ledger_state", "start_gateway", "supports_workers"]

GATEWAY_KEY = "sk-gateway-bench"
_DROP = ("AUDIO_GATEWAY_", "OPENAI_", "SILICONFLOW_", "AWS_")


_CLI = (sys.executable, "-m", "audio_gateway.cli")  # this venv's gateway, as `audio-gateway` would run it


def supports_workers(repo: Path) -> bool:
    """True when this version of `serve` has `--workers` (added for benchmarks; older ones lack it)."""
    out = subprocess.run([*_CLI, "serve", "--help"], capture_output=True, text=True, cwd=repo)
    return "--workers" in out.stdout


def start_gateway(repo: Path, upstream: str, log: Path, workers: int | None = None,
                  cli: Sequence[str] = _CLI) -> Service:
    """`upstream` is the OpenAI base URL (ends in /v1). Returns once /healthz answers.

    The data directory is `log` without its suffix, plus `-data`, emptied first. `cli` is the
    command before `serve` (benchmarks.gc_wrap puts a timed garbage collector around it)."""
    data = data_dir(log)
    shutil.rmtree(data, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP)}
    env.update(OPENAI_BASE_URL=upstream, OPENAI_API_KEY="sk-fake-provider", SILICONFLOW_API_KEY="",
               AUDIO_GATEWAY_API_KEYS=f"bench:{GATEWAY_KEY}", AUDIO_GATEWAY_CATALOG=str(repo / "catalog"),
               AUDIO_GATEWAY_DATA_DIR=str(data),
               AUDIO_GATEWAY_LOCAL="off")  # the proxy is measured; benchmarks/local_engines.py measures local
    port = free_port()
    argv = [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers:
        argv += ["--workers", str(workers)]
    service = Service("gateway", argv, port=port, log=log, env=env, cwd=repo)
    service.wait_ready("/healthz", timeout=60)
    return service


def data_dir(log: Path) -> Path:
    return log.with_name(log.stem + "-data")


def _sqlite_rows(path: Path) -> int | None:
    """Rows in the largest table of an SQLite file, or None when `path` is not one."""
    try:
        with open(path, "rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                return None
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return max((db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables), default=0)
    except (OSError, sqlite3.Error):
        return None


def ledger_state(log: Path) -> tuple[bool, str]:
    """`(on, how)`: on when the gateway started with `log` wrote an SQLite file with rows in its data directory."""
    data = data_dir(log)
    found = {p: _sqlite_rows(p) for p in sorted(data.rglob("*")) if p.is_file()} if data.exists() else {}
    ledgers = {p: n for p, n in found.items() if n}
    if not ledgers:
        return False, f"off (no SQLite file with rows in {data.name}/)"
    path, rows = max(ledgers.items(), key=lambda item: item[1])
    return True, f"on ({path.relative_to(data)}: {rows} rows in its largest table)"
