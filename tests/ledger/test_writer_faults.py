"""The writer against a real PostgreSQL server that goes away mid-run, and rows the database refuses."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import msgspec
import sqlalchemy as sa

from audio_gateway.ledger.queries import TotalsQuery
from audio_gateway.ledger.writer import LedgerWriter

from .conftest import empty_database_url, migrated, run
from .rows import T0, at, speech_row, transcription_row


def _rows(prefix: str, count: int):
    return [(speech_row if i % 2 else transcription_row)(f"{prefix}{i:04d}", when=at(i)) for i in range(count)]


def test_database_stopped_mid_run_rows_spill_then_appear_once(request, postgres_server, tmp_path):
    url = empty_database_url("postgresql", request, tmp_path)
    spill = tmp_path / "spill"
    before, during, after = _rows("before", 40), _rows("during", 40), _rows("after", 10)

    async def scenario():
        async with migrated(url) as store:
            writer = await LedgerWriter(store, spill, flush_interval=60, batch_size=20, write_timeout=3).start()
            for row in before:
                writer.record(row)
            await writer.flush()
            assert writer.stats().written == 40
            await asyncio.to_thread(postgres_server.stop)
            try:
                for row in during:
                    writer.record(row)                  # the request path: returns at once, raises nothing
                await writer.flush()                    # the database is gone: the rows go to the spill file
                for row in after:
                    writer.record(row)
                await writer.flush()
                outage = writer.stats(), sorted(p.name for p in spill.glob("*.spill.jsonl"))
            finally:
                await asyncio.to_thread(postgres_server.start)
            await writer.flush()                        # back: the spill file is replayed
            await writer.flush()                        # and nothing more happens the next time
            await writer.aclose()
            async with store._engine.connect() as conn:
                count = (await conn.execute(sa.text("SELECT count(*), count(DISTINCT id) FROM ledger_rows"))).one()
            totals = await store.totals(TotalsQuery(start=T0, end=at(3600), bucket_seconds=3600))
            return outage, writer.stats(), tuple(count), totals

    (down, spilled_files), final, count, totals = run(scenario())
    assert down.spilled == 50 and down.failed_writes >= 2 and len(spilled_files) == 1
    assert final.replayed == 50 and final.written == 40
    assert count == (90, 90)
    everything = before + during + after
    assert totals[0].requests == 90
    assert totals[0].cost_usd == sum((row.cost_usd for row in everything), Decimal(0))
    assert list(spill.glob("*.spill.jsonl")) == []


def test_a_row_the_database_refuses_is_set_aside_not_retried_forever(request, postgres_server, tmp_path):
    url = empty_database_url("postgresql", request, tmp_path)
    spill = tmp_path / "spill"
    bad = speech_row("x" * 300)                          # longer than the id column: PostgreSQL refuses it

    async def scenario():
        async with migrated(url) as store:
            async with LedgerWriter(store, spill, flush_interval=60) as writer:
                for row in [speech_row("ok_1"), bad, speech_row("ok_2")]:
                    writer.record(row)
                await writer.flush()
                stats = writer.stats()
            return stats, await store.get("ok_1"), await store.get("ok_2")

    stats, ok_1, ok_2 = run(scenario())
    assert stats.rejected == 1 and ok_1 is not None and ok_2 is not None
    kept = (spill / "rejected.jsonl").read_bytes().splitlines()
    assert [msgspec.json.decode(line)["id"] for line in kept] == [bad.id]
