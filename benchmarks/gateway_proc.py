"""Start `audio-gateway serve` as a subprocess pointed at the fake provider.

The gateway runs exactly as an operator would run it (the CLI, the repository's catalog, client
keys on, INFO access logging to a file), with OpenAI's base URL aimed at the fake and SiliconFlow
left unconfigured, so every request takes the primary route with no fallback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .procs import Service, free_port

__all__ = ["GATEWAY_KEY", "start_gateway", "supports_workers"]

GATEWAY_KEY = "sk-gateway-bench"
_DROP = ("AUDIO_GATEWAY_", "OPENAI_", "SILICONFLOW_", "AWS_")


_CLI = (sys.executable, "-m", "audio_gateway.cli")  # this venv's gateway, as `audio-gateway` would run it


def supports_workers(repo: Path) -> bool:
    """True when this version of `serve` has `--workers` (added for benchmarks; older ones lack it)."""
    out = subprocess.run([*_CLI, "serve", "--help"], capture_output=True, text=True, cwd=repo)
    return "--workers" in out.stdout


def start_gateway(repo: Path, upstream: str, log: Path, workers: int | None = None) -> Service:
    """`upstream` is the OpenAI base URL (ends in /v1). Returns once /healthz answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP)}
    env.update(OPENAI_BASE_URL=upstream, OPENAI_API_KEY="sk-fake-provider", SILICONFLOW_API_KEY="",
               AUDIO_GATEWAY_API_KEYS=f"bench:{GATEWAY_KEY}", AUDIO_GATEWAY_CATALOG=str(repo / "catalog"),
               AUDIO_GATEWAY_LOCAL="off")  # the proxy is measured; benchmarks/local_engines.py measures local
    port = free_port()
    argv = [*_CLI, "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers:
        argv += ["--workers", str(workers)]
    service = Service("gateway", argv, port=port, log=log, env=env, cwd=repo)
    service.wait_ready("/healthz", timeout=60)
    return service
