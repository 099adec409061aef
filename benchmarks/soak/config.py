"""What one soak run does, in one frozen value: the CLI builds it, the pytest builds a small one."""

from __future__ import annotations

from pathlib import Path

import msgspec

__all__ = ["SoakConfig"]


class SoakConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Defaults give the bounded run `make soak` promises: a few thousand requests, a few minutes at most."""

    requests: int = 5000
    """Requests in the load phase (warm-up excluded); the phase also ends at ``duration``."""
    duration: float = 150.0
    """Upper bound in seconds on the load phase, so a slow machine shortens the run instead of lengthening it."""
    rate: float = 40.0
    """Requests started per second at most (0: as fast as ``concurrency`` allows). A soak is sustained load
    over time — breakers cycling, heartbeats, sweeps, restarts — not a throughput race (that is benchmarks/)."""
    seed: int = 7
    """Seeds the request mix and the fault choices: the same seed replays the same sequence."""
    concurrency: int = 16
    """Requests in flight at once."""
    warmup: int = 120
    """Fault-free requests sent before the baseline RSS/fd reading (pools, caches and imports settle)."""
    fault_rate: float = 0.1
    """Chance that sending a request also injects one fault into a random fake provider."""
    upstream_timeout: float = 0.5
    """AUDIO_GATEWAY_UPSTREAM_TIMEOUT: short, so hangs and stalls cost half a second, not minutes."""
    worker_concurrency: int = 4
    kill_at: float = 0.3
    """Progress (0..1) at which one worker gets SIGKILL and a replacement starts."""
    term_at: float = 0.6
    """Progress at which the other worker gets SIGTERM (graceful) and a replacement starts."""
    job_drain_timeout: float = 90.0
    """Seconds the end of the run waits for every accepted job to reach a terminal state."""
    fd_slack: int = 24
    """Open descriptors the gateway may hold at the end beyond its post-warm-up baseline (pooled sockets)."""
    rss_growth_mib: float = 64.0
    """RSS growth (MiB) from the post-warm-up baseline to the end that still counts as "no growth"."""
    out_dir: Path = Path("benchmarks/soak/out")
    """Where the JSON report and the gateway/worker logs go (gitignored)."""
