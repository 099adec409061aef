"""The circuit breaker's state machine, driven by a hand-moved clock (no sleeping)."""

from __future__ import annotations

import pytest

from audio_gateway.catalog.model import BreakerSettings
from audio_gateway.providers.base import UpstreamFailure
from audio_gateway.routing import Breaker, counts_against_provider


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def breaker(clock: Clock, threshold: int = 3, cooldown: float = 30.0, enabled: bool = True) -> Breaker:
    return Breaker(BreakerSettings(enabled=enabled, failure_threshold=threshold, cooldown_seconds=cooldown), clock)


def test_opens_after_the_threshold_of_consecutive_failures(clock):
    b = breaker(clock)
    for _ in range(2):
        assert b.admit()
        b.failed("HTTP 503")
    assert b.state == "closed"
    assert b.admit()
    b.failed("HTTP 503")
    assert b.state == "open"
    assert not b.admit()
    assert b.view().retry_in_seconds == 30.0
    assert b.view().last_failure == "HTTP 503"


def test_a_success_resets_the_run_of_failures(clock):
    b = breaker(clock)
    b.failed("x")
    b.failed("x")
    b.succeeded()
    b.failed("x")
    b.failed("x")
    assert b.state == "closed"
    assert b.view().consecutive_failures == 2


def test_after_the_cooldown_exactly_one_probe_is_let_through(clock):
    b = breaker(clock, threshold=1, cooldown=10)
    b.failed("timeout")
    clock.now += 9.9
    assert not b.admit()
    clock.now += 0.1
    assert b.state == "half_open"
    assert b.admit()          # the probe
    assert not b.admit()      # everyone else still skips it
    assert not b.admit()
    assert b.state == "half_open"


def test_a_successful_probe_closes_it(clock):
    b = breaker(clock, threshold=1, cooldown=10)
    b.failed("timeout")
    clock.now += 10
    assert b.admit()
    b.succeeded()
    assert b.state == "closed"
    assert all(b.admit() for _ in range(5))


def test_a_failed_probe_reopens_it_for_a_full_cooldown(clock):
    b = breaker(clock, threshold=3, cooldown=10)
    for _ in range(3):
        b.failed("HTTP 500")
    clock.now += 10
    assert b.admit()
    b.failed("HTTP 500")      # one failure in half-open is enough
    assert b.state == "open"
    assert b.retry_in() == 10


def test_a_probe_that_ends_without_a_verdict_frees_the_slot(clock):
    b = breaker(clock, threshold=1, cooldown=10)
    b.failed("x")
    clock.now += 10
    assert b.admit()
    b.released()              # e.g. the client disconnected during the probe
    assert b.admit()


def test_retry_after_opens_it_for_that_long_at_once(clock):
    b = breaker(clock, threshold=3, cooldown=30)
    b.failed("HTTP 429", retry_after=5)
    assert b.state == "open"
    assert b.retry_in() == 5
    clock.now += 5
    assert b.admit()


def test_a_shorter_retry_after_never_shortens_an_open_breaker(clock):
    b = breaker(clock, threshold=1, cooldown=30)
    b.failed("HTTP 500")
    b.failed("HTTP 429", retry_after=2)
    assert b.retry_in() == 30


def test_disabled_never_opens(clock):
    b = breaker(clock, threshold=1, enabled=False)
    for _ in range(10):
        b.failed("HTTP 500", retry_after=60)
        assert b.admit()
    assert b.state == "closed"


@pytest.mark.parametrize(("failure", "counts"), [
    (UpstreamFailure("connect", "refused"), True),
    (UpstreamFailure("timeout", "slow"), True),
    (UpstreamFailure("malformed", "bad json"), True),
    (UpstreamFailure("status", "overloaded", status=503), True),
    (UpstreamFailure("status", "rate limited", status=429), True),
    (UpstreamFailure("status", "timeout", status=408), True),
    (UpstreamFailure("status", "bad key", status=401), True),
    (UpstreamFailure("status", "no such model", status=404), False),
    (UpstreamFailure("status", "bad input", status=400), False),
    (UpstreamFailure("status", "too large", status=413), False),
    (UpstreamFailure("busy", "pool full"), False),
])
def test_which_failures_count_against_a_provider(failure, counts):
    assert counts_against_provider(failure) is counts
