"""Loopback-only performance tools: `python -m benchmarks` (issue 6) and `python -m benchmarks.soak`."""
