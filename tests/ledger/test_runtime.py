"""open_ledger(settings): the default SQLite file, the start-up upgrade (or refusal), and a database that is
down at start-up."""

from __future__ import annotations

import asyncio

import pytest

from audio_gateway.ledger.migrate import SchemaBehind
from audio_gateway.ledger.runtime import ledger_url, open_ledger, spill_dir
from audio_gateway.settings import Settings, SettingsError

from .conftest import migrated, run
from .rows import speech_row


def test_settings_for_the_ledger(tmp_path):
    default = Settings.from_env({"AUDIO_GATEWAY_DATA_DIR": str(tmp_path)})
    assert (default.database_url, default.db_auto_upgrade, default.ledger_flush_seconds) == (None, True, 1.0)
    assert ledger_url(default) == f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    assert spill_dir(default) == tmp_path / "ledger-spill"
    custom = Settings.from_env({"AUDIO_GATEWAY_DATABASE_URL": "postgresql://u:p@db/ledger",
                                "AUDIO_GATEWAY_DB_AUTO_UPGRADE": "off", "AUDIO_GATEWAY_LEDGER_FLUSH_INTERVAL": "0.25"})
    assert (ledger_url(custom), custom.db_auto_upgrade, custom.ledger_flush_seconds) == (
        "postgresql://u:p@db/ledger", False, 0.25)
    assert "p@db" not in repr(custom)
    with pytest.raises(SettingsError, match="AUDIO_GATEWAY_DB_AUTO_UPGRADE"):
        Settings.from_env({"AUDIO_GATEWAY_DB_AUTO_UPGRADE": "sometimes"})


def test_the_default_ledger_is_created_in_the_data_dir_on_first_start(tmp_path):
    settings = Settings.from_env({"AUDIO_GATEWAY_DATA_DIR": str(tmp_path / "data")})

    async def scenario():
        async with open_ledger(settings) as ledger:
            ledger.sink.record(speech_row("first"))
        async with open_ledger(settings) as ledger:         # drained at the first close, read at the second start
            return await ledger.store.get("first")

    assert run(scenario()) is not None
    assert (tmp_path / "data" / "ledger.db").is_file()


def test_with_upgrades_off_a_schema_behind_stops_start_up(tmp_path):
    env = {"AUDIO_GATEWAY_DATA_DIR": str(tmp_path), "AUDIO_GATEWAY_DB_AUTO_UPGRADE": "off"}
    settings = Settings.from_env(env)

    async def start() -> None:
        async with open_ledger(settings):
            pass

    with pytest.raises(SchemaBehind, match="audio-gateway db upgrade"):
        run(start())

    async def upgraded() -> None:
        async with migrated(ledger_url(settings)):
            pass
        await start()                                       # current schema: starts

    run(upgraded())


def test_a_database_down_at_start_up_is_migrated_and_filled_once_back(postgres_server, tmp_path):
    url = postgres_server.create_database("down_at_start")
    settings = Settings.from_env({"AUDIO_GATEWAY_DATABASE_URL": url, "AUDIO_GATEWAY_DATA_DIR": str(tmp_path)})

    async def scenario():
        await asyncio.to_thread(postgres_server.stop)
        try:
            async with open_ledger(settings) as ledger:    # starts anyway: rows spill meanwhile
                ledger.sink.record(speech_row("while_down"))
                await ledger.writer.flush()
                spilled = ledger.writer.stats().spilled
                await asyncio.to_thread(postgres_server.start)
                await ledger.writer.flush()                 # migrates, then replays the spill file
                return spilled, await ledger.store.get("while_down"), await ledger.store.revision()
        finally:
            if not postgres_server.running():
                await asyncio.to_thread(postgres_server.start)

    spilled, row, revision = run(scenario())
    assert spilled == 1 and row is not None and revision is not None

