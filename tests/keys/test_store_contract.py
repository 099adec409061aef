"""The key store, the admin operations and the cache, one body run against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from audio_gateway.keys import KeyLimits, KeyRecord
from audio_gateway.keys.admin import KeyAdmin
from audio_gateway.keys.cache import KeyCache
from audio_gateway.keys.spec import KeyCreate, KeyInputError, KeyPatch
from audio_gateway.keys.store import DuplicateKey, UnknownKey
from audio_gateway.ledger.store import STORE_ERRORS

from ..ledger.rows import speech_row
from .conftest import Clock, opened

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
MODELS = {"tts-1": "openai/tts-1", "openai/tts-1": "openai/tts-1", "whisper-1": "openai/whisper-1"}


def _record(name: str, **limits) -> KeyRecord:
    return KeyRecord(name=name, digest=hashlib.sha256(name.encode()).hexdigest(), limits=KeyLimits(**limits),
                     created_at=NOW)


def test_keys_round_trip_and_every_change_moves_the_version(database_url):
    async def scenario():
        async with opened(database_url) as (_, store):
            v0 = await store.version()
            limits = dict(models=("openai/tts-1",), budget_usd=Decimal("12.000000001"), budget_period="week", rpm=5,
                          characters_per_minute=1000, audio_seconds_per_minute=600)
            await store.create(_record("a", **limits))
            await store.create(_record("b"))
            v1 = await store.version()
            with pytest.raises(DuplicateKey):
                await store.create(_record("a"))
            assert await store.version() == v1                      # a refused write changes nothing
            found = await store.get("a")
            assert found == _record("a", **limits)                  # exact decimal, tuple of models, UTC time
            assert [r.name for r in await store.all()] == ["a", "b"]
            updated = await store.update("a", KeyLimits(rpm=7), admin=True)
            assert updated.admin and updated.limits == KeyLimits(rpm=7)
            await store.delete("b")
            with pytest.raises(UnknownKey):
                await store.delete("b")
            with pytest.raises(UnknownKey):
                await store.update("b", KeyLimits(), admin=False)
            v2, records = await store.snapshot()
            assert v0 < v1 < v2 == v1 + 2 and [r.name for r in records] == ["a"]
            await store.touch({"a": NOW + timedelta(seconds=5)})
            await store.touch({"a": NOW})                          # never moves backwards
            assert (await store.get("a")).last_used_at == NOW + timedelta(seconds=5)
            assert await store.version() == v2                      # use is not a change replicas reload for
    asyncio.run(scenario())


def test_admin_checks_before_writing_and_names_the_field(database_url):
    async def scenario():
        async with opened(database_url) as (ledger, store):
            admin = KeyAdmin(store, ledger, resolve=MODELS.get, reserved={"alice"}, clock=Clock())
            record, secret = await admin.create(KeyCreate(name="team", models=["tts-1"], budget_usd=Decimal(5)))
            assert secret.startswith("sk-gw-") and len(secret) >= 6 + 43
            assert record.digest == hashlib.sha256(secret.encode()).hexdigest()
            assert record.limits.models == ("openai/tts-1",) and record.limits.budget_period == "month"
            bad = [
                (KeyCreate(name="team"), "name"),
                (KeyCreate(name="alice"), "name"),
                (KeyCreate(name="no spaces"), "name"),
                (KeyCreate(name="x", budget_usd=Decimal(-1)), "budget_usd"),
                (KeyCreate(name="x", budget_usd=Decimal("0.0000000001")), "budget_usd"),
                (KeyCreate(name="x", budget_usd=Decimal(1), budget_period="year"), "budget_period"),
                (KeyCreate(name="x", budget_period="day"), "budget_period"),
                (KeyCreate(name="x", models=["nope"]), "models"),
                (KeyCreate(name="x", models=[]), "models"),
                (KeyCreate(name="x", rpm=0), "rpm"),
                (KeyCreate(name="x", characters_per_minute=-5), "characters_per_minute"),
                (KeyCreate(name="x", audio_seconds_per_minute=0), "audio_seconds_per_minute"),
            ]
            for spec, field in bad:
                with pytest.raises(KeyInputError) as caught:
                    await admin.create(spec)
                assert caught.value.field == field, spec
            with pytest.raises(KeyInputError) as caught:
                await admin.update("team", KeyPatch(budget_period="fortnight"))
            assert caught.value.field == "budget_period"
            assert [r.name for r in await store.all()] == ["team"]             # nothing half-written
            assert (await store.get("team")).limits == record.limits
            cleared = await admin.update("team", KeyPatch(budget_usd=None, rpm=3))
            assert cleared.limits == KeyLimits(models=("openai/tts-1",), rpm=3)   # the period went with the budget
    asyncio.run(scenario())


def test_a_keys_view_shows_its_spend_this_period_from_the_ledger(database_url):
    async def scenario():
        async with opened(database_url) as (ledger, store):
            clock = Clock(NOW)
            admin = KeyAdmin(store, ledger, resolve=MODELS.get, clock=clock)
            await admin.create(KeyCreate(name="team", budget_usd=Decimal(1), budget_period="day"))
            await ledger.write([   # 11 characters at $15 / 1M, and one at $0.1 / 1M
                speech_row("in1", when=NOW - timedelta(hours=1), key="team", text="hello world"),
                speech_row("in2", when=NOW - timedelta(hours=2), key="team", text="h", price="0.0000001"),
                speech_row("before", when=NOW - timedelta(days=1), key="team"),
                speech_row("other", when=NOW, key="other")])
            [view] = await admin.list()
            assert "secret" not in view and "digest" not in view
            assert view["spend_usd"] == "0.0001651"
            assert (view["period_start"], view["resets_at"]) == ("2027-03-10T00:00:00Z", "2027-03-11T00:00:00Z")
    asyncio.run(scenario())


def test_the_cache_sees_a_change_at_its_next_poll(database_url):
    async def scenario():
        async with opened(database_url) as (ledger, store):
            admin = KeyAdmin(store, ledger, resolve=MODELS.get, clock=Clock())
            cache = KeyCache(store, None, poll_seconds=0.05)
            async with cache.running():
                assert not cache
                _, secret = await admin.create(KeyCreate(name="team", rpm=2))
                digest = hashlib.sha256(secret.encode()).digest()
                for _ in range(100):
                    if cache.lookup(digest) is not None:
                        break
                    await asyncio.sleep(0.02)
                key = cache.lookup(digest)
                assert key is not None and key.name == "team" and key.limits == KeyLimits(rpm=2)
                assert (await store.get("team")).last_used_at is None      # noted in memory, written in batches
                await cache.flush_usage()
                assert (await store.get("team")).last_used_at is not None
                await admin.revoke("team")
                for _ in range(100):
                    if cache.lookup(digest) is None:
                        break
                    await asyncio.sleep(0.02)
                assert cache.lookup(digest) is None
            assert (await store.get("team")) is None
    asyncio.run(scenario())


def test_the_version_poll_reconnects_after_the_server_drops_its_connection(postgres_keys_url):
    """`version` holds one connection between polls; a server that drops it (restarted, or an operator's
    pg_terminate_backend) costs one failed poll, and the next opens a new one. PostgreSQL only: an
    SQLite file has no server to drop anything."""
    async def scenario():
        async with opened(postgres_keys_url) as (ledger, store):
            before = await store.version()
            async with ledger.engine.connect() as conn:
                cut = await conn.execute(sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"))
                assert any(cut.scalars())
            with pytest.raises(STORE_ERRORS):
                await store.version()
            await store.create(_record("after-the-cut"))
            try:
                assert await store.version() == before + 1        # a new connection, and it sees the change
            finally:
                await store.delete("after-the-cut")
    asyncio.run(scenario())
