"""LatencyStats: the exponentially weighted time to first byte per (provider, kind), with an injected clock."""

from __future__ import annotations

import pytest

from audio_gateway.routing import LatencyStats, LatencyView


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_sample_is_the_average_and_later_ones_are_smoothed():
    stats = LatencyStats(smoothing=0.5, clock=Clock())
    stats.observe("openai", "tts", 0.100)
    assert stats.view("openai", "tts") == LatencyView(ewma_ms=pytest.approx(100.0), samples=1)
    stats.observe("openai", "tts", 0.300)
    stats.observe("openai", "tts", 0.300)
    assert stats.view("openai", "tts") == LatencyView(ewma_ms=pytest.approx(250.0), samples=3)


def test_kinds_and_providers_are_kept_apart():
    stats = LatencyStats(clock=Clock())
    stats.observe("openai", "tts", 0.05)
    stats.observe("openai", "stt", 2.0)
    stats.observe("siliconflow", "tts", 0.02)
    assert set(stats.views("tts")) == {"openai", "siliconflow"}
    assert stats.views("stt")["openai"].ewma_ms == pytest.approx(2000.0)
    assert stats.view("siliconflow", "stt") is None


def test_a_stale_series_is_forgotten_and_starts_over():
    clock = Clock()
    stats = LatencyStats(smoothing=0.3, stale_after=60, clock=clock)
    for _ in range(10):
        stats.observe("openai", "tts", 1.0)
    clock.now += 61
    assert stats.view("openai", "tts") is None and stats.views("tts") == {}
    stats.observe("openai", "tts", 0.01)  # a recovered provider is judged on what it does now
    assert stats.view("openai", "tts") == LatencyView(ewma_ms=pytest.approx(10.0), samples=1)


def test_smoothing_must_be_a_fraction():
    with pytest.raises(ValueError):
        LatencyStats(smoothing=0)
