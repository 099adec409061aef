"""Portkey's AI gateway (Node, npm `@portkey-ai/gateway`), pointed at the same fake provider.

The issue compares the gateway with it on transcription. It is installed with `npm ci` from the
committed benchmarks/portkey/package.json and package-lock.json into benchmarks/.portkey (gitignored)
on first use. The lock pins `@hono/node-server` to 1.14.2 through an `overrides` entry: later
versions hand Portkey immutable response headers and every request fails (Portkey issue #1389).
Even so, on Node 20 its `/v1/audio/speech` answers 500 (`TypeError: immutable`); the benchmark
reports that as measured. The lock records no download addresses (`omit-lockfile-registry-resolved`),
so npm takes every package from the registry it is configured with; after installing, any
`resolved` address outside that registry is refused. Any failure is returned as a reason, so the
rest of the benchmark still runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from .procs import Service, free_port

__all__ = ["PORTKEY_VERSION", "ensure_portkey", "foreign_downloads", "portkey_headers", "start_portkey"]

PORTKEY_VERSION = "1.15.2"
SOURCE = Path(__file__).resolve().parent / "portkey"  # package.json + package-lock.json, committed
_MIN_NODE = 18
_START = Path("node_modules/@portkey-ai/gateway/build/start-server.js")


def portkey_headers(upstream: str) -> dict[str, str]:
    """Headers that make Portkey forward a request to `upstream` (an OpenAI base URL ending in /v1)."""
    return {"x-portkey-provider": "openai", "x-portkey-custom-host": upstream,
            "Authorization": "Bearer sk-fake-provider"}


def _node_major() -> int | None:
    try:
        out = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10, check=True)
        return int(out.stdout.strip().lstrip("v").split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def _resolved(lock: dict) -> Iterator[str]:
    for entry in lock.get("packages", {}).values():
        if isinstance(entry, dict) and isinstance(entry.get("resolved"), str):
            yield entry["resolved"]


def foreign_downloads(lock_path: Path) -> list[str]:
    """`resolved` addresses in an npm lockfile that are not under the configured npm registry."""
    registry = subprocess.run(["npm", "config", "get", "registry"], capture_output=True, text=True,
                              timeout=30).stdout.strip().rstrip("/") + "/"
    return [url for url in _resolved(json.loads(lock_path.read_text())) if not url.startswith(registry)]


def _installed_versions(home: Path) -> tuple[str, str]:
    read = lambda name: json.loads((home / "node_modules" / name / "package.json").read_text())["version"]  # noqa: E731
    return read("@portkey-ai/gateway"), read("@hono/node-server")


def ensure_portkey(home: Path) -> tuple[Path | None, str]:
    """`(path of start-server.js, "")`, installing into `home` on first use; `(None, reason)` when it cannot."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return None, "Portkey skipped: node and npm are not on PATH"
    major = _node_major()
    if major is None or major < _MIN_NODE:
        return None, f"Portkey skipped: it needs Node >= {_MIN_NODE}, found {major or 'none'}"
    start = home / _START
    lock = SOURCE / "package-lock.json"
    installed = home / "package-lock.json"
    stale = not start.exists() or not installed.exists() or installed.read_bytes() != lock.read_bytes()
    if stale:
        print(f"benchmark: installing @portkey-ai/gateway@{PORTKEY_VERSION} into {home} (first run only)...",
              file=sys.stderr, flush=True)
        home.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(SOURCE / name, home / name)
        try:
            # --ignore-scripts: its only install script is patch-package, which has no patches to apply
            subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--omit-lockfile-registry-resolved"],
                           cwd=home, check=True, capture_output=True, timeout=600)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace")[-500:]
            installed.unlink(missing_ok=True)  # so the next run tries again
            return None, f"Portkey could not be installed ({exc}): {detail}"
    foreign = foreign_downloads(installed)
    if foreign:
        return None, f"Portkey refused: its lockfile downloads from outside the npm registry: {foreign[:3]}"
    versions = _installed_versions(home)
    if versions != (PORTKEY_VERSION, "1.14.2"):
        return None, f"Portkey skipped: installed gateway/@hono/node-server are {versions}, want ({PORTKEY_VERSION}, 1.14.2)"
    return (start, "") if start.exists() else (None, f"Portkey installed without {_START}")


def start_portkey(start: Path, work: Path) -> tuple[Service | None, str]:
    """Start it on a free port of 127.0.0.1 (`--headless`: no console UI); `(None, reason)` if it does not come up."""
    port = free_port()
    argv = ["node", "--require", str(SOURCE / "loopback.cjs"), str(start.resolve()), f"--port={port}", "--headless"]
    service = Service("portkey", argv, port=port, log=work / "portkey.log", cwd=work)
    try:
        service.wait_ready("/", timeout=60)
    except RuntimeError as exc:
        return None, str(exc)
    return service, ""
