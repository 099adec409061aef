"""A LiteLLM proxy, the most used Python gateway, pointed at the same fake provider.

It lives in its own venv (benchmarks/.litellm-venv, gitignored) because its dependency tree is large
and pins versions the gateway does not need. It starts offline: `LITELLM_LOCAL_MODEL_COST_MAP=True`
keeps it from fetching its price map, a master key replaces the database. Any failure to install or
start is returned as a reason, so the rest of the benchmark still runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .procs import Service, free_port

__all__ = ["LITELLM_KEY", "ensure_litellm", "start_litellm"]

LITELLM_KEY = "sk-litellm-bench"
# 1.107.0 was a compromised release; the reference figures are from 1.108.
REQUIREMENT = "litellm[proxy]>=1.108"

_CONFIG = """\
model_list:
  - model_name: tts-1
    litellm_params: {{model: openai/tts-1, api_base: "{upstream}", api_key: sk-fake-provider}}
  - model_name: whisper-1
    litellm_params: {{model: openai/whisper-1, api_base: "{upstream}", api_key: sk-fake-provider}}
    model_info: {{mode: audio_transcription}}
general_settings:
  master_key: {key}
litellm_settings:
  telemetry: false
"""


def ensure_litellm(venv: Path) -> tuple[Path | None, str]:
    """`(path of the litellm executable, "")`, installing on first use; `(None, reason)` on failure."""
    exe = venv / "bin" / "litellm"
    if exe.exists():
        return exe, ""
    try:
        print(f"benchmark: installing {REQUIREMENT} into {venv} (first run only)...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        REQUIREMENT], check=True, capture_output=True, timeout=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        return None, f"LiteLLM could not be installed ({exc}): {detail.decode(errors='replace')[-500:]}"
    return (exe, "") if exe.exists() else (None, "LiteLLM installed without a `litellm` executable")


def start_litellm(exe: Path, upstream: str, work: Path, workers: int | None = None) -> tuple[Service | None, str]:
    """Start the proxy on a free port; `(None, reason)` if it does not come up."""
    config = work / "litellm.yaml"
    config.write_text(_CONFIG.format(upstream=upstream, key=LITELLM_KEY))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LITELLM_", "DATABASE_URL"))}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True")
    port = free_port()
    argv = [str(exe), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    if workers:
        argv += ["--num_workers", str(workers)]
    service = Service("litellm", argv, port=port, log=work / "litellm.log", env=env, cwd=work)
    try:
        service.wait_ready("/health/liveliness", timeout=120)
    except RuntimeError as exc:
        return None, str(exc)
    return service, ""
