"""Catalog generations: a swap keeps what did not change, pinned requests keep what they started with,
and every adapter is closed exactly once, when nothing uses it any more."""

from __future__ import annotations

import asyncio
import shutil

import msgspec
import pytest

from audio_gateway.catalog import Provider
from audio_gateway.catalog.reload import CatalogSource
from audio_gateway.generations import LiveGateway
from audio_gateway.providers import ADAPTERS

from ..support.server_thread import CATALOG_DIR

ENV = {"OPENAI_API_KEY": "sk-test-openai", "SILICONFLOW_API_KEY": "sk-test-siliconflow",
       "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "SILICONFLOW_BASE_URL": "http://127.0.0.1:9/v1"}


class RecordingAdapter:
    """Stands in for an HTTP adapter: remembers which provider settings built it and whether it was closed."""

    def __init__(self, provider: Provider, log: list[RecordingAdapter]):
        self.provider = provider
        self.closes = 0
        log.append(self)

    async def speech(self, call):  # pragma: no cover - never called here
        raise NotImplementedError

    async def transcribe(self, call):  # pragma: no cover
        raise NotImplementedError

    async def aclose(self) -> None:
        self.closes += 1


@pytest.fixture
def catalog_dir(tmp_path):
    directory = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, directory)
    return directory


def _source(directory) -> CatalogSource:
    return CatalogSource.of(directory, ENV, ADAPTERS.keys())


def _edit(directory, path: str, old: str, new: str) -> None:
    file = directory / path
    text = file.read_text()
    assert text.count(old) >= 1, f"{path} no longer contains {old!r}"
    file.write_text(text.replace(old, new, 1))


def _live(directory, built: list[RecordingAdapter], seen: list[tuple[str, str | None]] | None = None) -> LiveGateway:
    def listener(new, previous):
        if seen is not None:
            seen.append((new.version, previous.version if previous else None))
    return LiveGateway(_source(directory).load(), listener=listener,
                       build=lambda provider: RecordingAdapter(provider, built))


def test_a_swap_keeps_the_adapter_and_breaker_of_every_unchanged_provider(catalog_dir):
    built: list[RecordingAdapter] = []

    async def scenario():
        async with _live(catalog_dir, built).serving() as live:
            first = live.current
            first.breakers["siliconflow"].failed("boom")          # state that must survive the reload
            _edit(catalog_dir, "providers.yaml", "max_connections: 100        #", "max_connections: 50        #")
            _edit(catalog_dir, "models/tts.yaml", "price_usd: 15, per: 1000000", "price_usd: 16, per: 1000000")
            second = await live.swap(_source(catalog_dir).load())
            assert live.current is second and second.version != first.version
            assert second.adapters["siliconflow"] is first.adapters["siliconflow"]
            assert second.breakers["siliconflow"] is first.breakers["siliconflow"]
            assert second.breakers["siliconflow"].view().consecutive_failures == 1
            assert second.adapters["openai"] is not first.adapters["openai"]     # its settings changed
            assert second.breakers["openai"] is not first.breakers["openai"]
            assert first.adapters["openai"].closes == 1                          # nothing pinned the old one
            assert second.plan.routes["openai/tts-1"].model.billing[0].price_usd == 16
        return first, second

    first, second = asyncio.run(scenario())
    # One adapter per provider, plus the new openai one; each closed once (siliconflow's shared by both).
    assert len(built) == len(first.plan.providers) + 1
    assert [a.closes for a in built] == [1] * len(built)


def test_a_request_pinned_before_a_reload_keeps_its_generation_and_adapters_until_it_ends(catalog_dir):
    built: list[RecordingAdapter] = []

    async def scenario():
        async with _live(catalog_dir, built).serving() as live:
            old = live.current
            async with live.pinned() as pinned:
                assert pinned is old
                _edit(catalog_dir, "providers.yaml", "connect_seconds: 5\n", "connect_seconds: 4\n")
                new = await live.swap(_source(catalog_dir).load())
                async with live.pinned() as later:
                    assert later is new                         # new requests get the new generation
                assert pinned.adapters["openai"].closes == 0    # still in use by the pinned request
                assert pinned.route("tts-1").model.id == "openai/tts-1"
            assert old.adapters["openai"].closes == 1           # closed as the request ended
            assert new.adapters["openai"].closes == 0
            assert old.adapters["siliconflow"] is new.adapters["siliconflow"]
            assert new.adapters["siliconflow"].closes == 0

    asyncio.run(scenario())
    assert all(a.closes == 1 for a in built)


def test_a_provider_removed_by_a_reload_is_closed_after_its_last_pinned_request(catalog_dir):
    built: list[RecordingAdapter] = []
    _edit(catalog_dir, "providers.yaml", "providers:\n", "providers:\n  spare:\n    adapter: openai\n"
          "    base_url: http://127.0.0.1:9/v1\n    auth: none\n")

    async def scenario():
        async with _live(catalog_dir, built).serving() as live:
            spare = live.current.adapters["spare"]
            first = live.pinned()
            second = live.pinned()
            await first.__aenter__()
            await second.__aenter__()
            _edit(catalog_dir, "providers.yaml", "  spare:\n    adapter: openai\n    base_url: http://127.0.0.1:9/v1\n"
                  "    auth: none\n", "")
            await live.swap(_source(catalog_dir).load())
            assert "spare" not in live.current.adapters
            await first.__aexit__(None, None, None)
            assert spare.closes == 0                            # one request still uses it
            await second.__aexit__(None, None, None)
            assert spare.closes == 1

    asyncio.run(scenario())
    assert all(a.closes == 1 for a in built)


def test_the_listener_hears_every_generation_and_shutdown_closes_whatever_is_left(catalog_dir):
    built: list[RecordingAdapter] = []
    seen: list[tuple[str, str | None]] = []

    async def scenario():
        live = _live(catalog_dir, built, seen)
        async with live.serving():
            first = live.version
            _edit(catalog_dir, "models/stt.yaml", "price_usd: 0.006", "price_usd: 0.007")
            await live.swap(_source(catalog_dir).load())
            second = live.version
            async with live.pinned():
                _edit(catalog_dir, "providers.yaml", "read_seconds: 60 ", "read_seconds: 61 ")
                await live.swap(_source(catalog_dir).load())
                third = live.version
        return first, second, third

    first, second, third = asyncio.run(scenario())
    assert seen == [(first, None), (second, first), (third, second)]
    assert all(a.closes == 1 for a in built), [a.closes for a in built]


def test_provider_settings_decide_reuse_not_the_name(catalog_dir):
    loaded = _source(catalog_dir).load()
    openai = loaded.plan.providers["openai"]
    assert openai == msgspec.structs.replace(openai)                  # equal settings compare equal
    assert openai != msgspec.structs.replace(openai, max_connections=7)
