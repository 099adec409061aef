"""serve_first, table-driven with in-memory adapters: which final status a chain of outcomes gives.

No HTTP here: each target's attempt is a scripted outcome (served, a failure kind, a client error, a hang
past the deadline), so the 429/502/503/504 decision is pinned for every mix the gateway can meet.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from audio_gateway.billing import Unit
from audio_gateway.catalog.model import (
    BillingComponent,
    Provider,
    SttCapabilities,
    SttModel,
    Target,
)
from audio_gateway.errors import UpstreamClientError, UpstreamUnavailable
from audio_gateway.providers import FailureKind, UpstreamFailure
from audio_gateway.routing import Breakers, Outcome, Unsuitable, serve_first

SERVED = "served"
HANG = "hang"
UNSUITABLE = "unsuitable"


def target(name: str) -> Target:
    model = SttModel(id=f"m/{name}", provider=name, upstream_model=name, capabilities=SttCapabilities(response_formats=("json",)),
                     billing=(BillingComponent(unit=Unit.SECOND, price_usd=Decimal(1)),))
    return Target(model=model, provider=Provider(name=name, adapter="openai", base_url="http://127.0.0.1:9/v1", api_key="k"))


def failure(kind: FailureKind, status: int | None = None) -> UpstreamFailure:
    return UpstreamFailure(kind, "scripted", status=status)


async def run(script: list[object], *, unavailable: dict[str, str] | None = None, deadline: float | None = None):
    targets = tuple(target(f"p{i}") for i in range(len(script)))
    outcomes = {t.provider.name: step for t, step in zip(targets, script)}

    async def attempt(t: Target) -> str:
        step = outcomes[t.provider.name]
        if step == SERVED:
            return t.provider.name
        if step == HANG:
            await asyncio.sleep(10)
        if step == UNSUITABLE:
            raise Unsuitable("cannot")
        assert isinstance(step, UpstreamFailure)
        raise step

    return await serve_first(targets, attempt, breakers=Breakers(t.provider for t in targets), deadline=deadline,
                             unavailable=unavailable)


CONNECT, TIMEOUT, MALFORMED, BUSY = (failure(k) for k in (FailureKind.CONNECT, FailureKind.TIMEOUT,
                                                              FailureKind.MALFORMED, FailureKind.BUSY))


@pytest.mark.parametrize("script, status, code", [
    ([failure(FailureKind.STATUS, 500), failure(FailureKind.STATUS, 503)], 502, "upstream_failed"),
    ([CONNECT, MALFORMED], 502, "upstream_failed"),
    ([TIMEOUT, TIMEOUT], 504, "upstream_timeout"),
    ([TIMEOUT, CONNECT], 502, "upstream_failed"),
    ([BUSY, BUSY], 429, "upstream_capacity_exhausted"),
    ([BUSY, TIMEOUT], 502, "upstream_failed"),
    ([UNSUITABLE, BUSY], 429, "upstream_capacity_exhausted"),   # a skipped target does not count
    ([UNSUITABLE, UNSUITABLE], 503, "no_provider_available"),
    ([failure(FailureKind.STATUS, 401), failure(FailureKind.STATUS, 429)], 502, "upstream_failed"),
])
def test_exhausted_chains(script, status, code):
    with pytest.raises(UpstreamUnavailable) as caught:
        asyncio.run(run(script))
    assert (caught.value.status, caught.value.code) == (status, code)
    assert len(caught.value.tried) == len(script)


def test_every_provider_unavailable_is_503_without_a_call():
    with pytest.raises(UpstreamUnavailable) as caught:
        asyncio.run(run([SERVED, SERVED], unavailable={"p0": "no API key configured", "p1": "engine missing"}))
    assert (caught.value.status, caught.value.code) == (503, "no_provider_available")
    assert [a.outcome for a in caught.value.tried] == [Outcome.NOT_CONFIGURED, Outcome.NOT_CONFIGURED]
    assert caught.value.tried[1].reason == "engine missing"


def test_the_request_deadline_is_504_and_stops_the_chain():
    with pytest.raises(UpstreamUnavailable) as caught:
        asyncio.run(run([HANG, SERVED], deadline=0.05))
    assert (caught.value.status, caught.value.code) == (504, "deadline_exceeded")
    assert [a.outcome for a in caught.value.tried] == [Outcome.DEADLINE]


@pytest.mark.parametrize("script, served, outcomes", [
    ([SERVED], "p0", [Outcome.OK]),
    ([CONNECT, SERVED], "p1", [Outcome.CONNECT, Outcome.OK]),
    ([BUSY, UNSUITABLE, SERVED], "p2", [Outcome.BUSY, Outcome.UNSUPPORTED, Outcome.OK]),
    ([failure(FailureKind.STATUS, 404), SERVED], "p1", [Outcome.STATUS, Outcome.OK]),
])
def test_the_first_target_that_serves_wins(script, served, outcomes):
    result = asyncio.run(run(script))
    assert result.value == served
    assert [a.outcome for a in result.attempts] == outcomes


@pytest.mark.parametrize("status", [400, 413, 422])
def test_the_callers_own_bad_input_is_returned_without_falling_back(status):
    with pytest.raises(UpstreamClientError) as caught:
        asyncio.run(run([failure(FailureKind.STATUS, status), SERVED]))
    assert caught.value.status == status
    assert [a.outcome for a in caught.value.tried] == [Outcome.STATUS]
