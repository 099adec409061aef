"""The ledger under faults, through a real gateway (issue 11): nothing a client was answered goes unbooked.

- The database stops mid-run: every request is still answered as before; the rows spill and appear once it
  is back, none twice.
- SIGTERM under load: the gateway drains, and the rows equal the requests it answered.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import httpx
import pytest

from audio_gateway.ledger.store import LedgerStore

from ..conftest import CLIENT_KEYS, provider_env
from ..support.server_thread import GatewayServer
from ..support.services import GatewayProcess, PostgresServer
from .conftest import run

SPEECH = {"model": "tts-1", "voice": "alloy", "input": "Booked, whatever happens."}
AUTH = {"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}


async def _count(url: str, ids: list[str]) -> tuple[int, int]:
    """(rows with these ids, rows in all) in the ledger at `url`."""
    store = LedgerStore.from_url(url)
    try:
        found = [row for row in [await store.get(i) for i in ids] if row is not None]
        async with store._engine.connect() as conn:
            import sqlalchemy as sa

            total = (await conn.execute(sa.text("SELECT count(*) FROM ledger_rows"))).scalar_one()
        return len(found), int(total)
    finally:
        await store.close()


@pytest.fixture
def own_postgres():
    server = PostgresServer()
    yield server
    server.close()


def test_a_database_outage_loses_no_row_and_counts_none_twice(own_postgres, fake_openai, fake_siliconflow, tmp_path):
    url = own_postgres.create_database("outage")
    env = provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_DATABASE_URL=url,
                       AUDIO_GATEWAY_DATA_DIR=str(tmp_path), AUDIO_GATEWAY_LEDGER_FLUSH_INTERVAL="0.05")
    server = GatewayServer(env).start()
    ids: list[str] = []
    try:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as http:
            def burst(n: int) -> None:
                for _ in range(n):
                    response = http.post("/v1/audio/speech", json=SPEECH)
                    assert response.status_code == 200  # the books never hold a request up
                    ids.append(response.headers["x-request-id"])

            burst(8)
            deadline = time.monotonic() + 10
            while run(_count(url, ids))[0] < 8:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            own_postgres.stop()
            burst(12)                        # answered while the database is down: rows spill
            time.sleep(0.3)
            own_postgres.start()
            deadline = time.monotonic() + 20
            while (found := run(_count(url, ids)))[0] < len(ids):
                assert time.monotonic() < deadline, found
                time.sleep(0.1)
    finally:
        server.stop()
    assert run(_count(url, ids)) == (20, 20)   # every row, each once (spill replay is idempotent)


def test_sigterm_under_load_books_every_answered_request(fake_openai, fake_siliconflow, tmp_path):
    env = provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_DATA_DIR=str(tmp_path / "data"),
                       AUDIO_GATEWAY_SHUTDOWN_GRACE="10")
    fake_openai.chunk_size, fake_openai.chunk_delay = 4096, 0.02  # streams in flight when the signal lands
    gateway = GatewayProcess(env, tmp_path / "gateway.log")
    answered: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=gateway.url, headers=AUTH, timeout=10) as http:
            while not stop.is_set():
                try:
                    response = http.post("/v1/audio/speech", json={**SPEECH, "response_format": "wav"})
                except httpx.TransportError:
                    return  # the gateway stopped accepting
                if response.status_code == 200 and response.headers.get("x-request-id"):
                    answered.append(response.headers["x-request-id"])

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 10
        while len(answered) < 10:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        gateway.process.terminate()
        assert gateway.process.wait(20) == 0
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
        gateway.stop()
    with sqlite3.connect(tmp_path / "data" / "ledger.db") as db:
        booked = {row[0] for row in db.execute("SELECT id FROM ledger_rows")}
    assert set(answered) <= booked
    assert len(booked) == len(answered)  # and nothing booked that no client was answered
