"""The LedgerStore contract: one body per behaviour, run against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import msgspec
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from audio_gateway.ledger import LedgerLine
from audio_gateway.ledger.migrate import head_revision
from audio_gateway.ledger.queries import RowFilter, TotalsQuery
from audio_gateway.ledger.schema import VERSION_TABLE, metadata
from audio_gateway.ledger.store import LedgerStore

from .conftest import migrated, run
from .rows import T0, at, failed_row, speech_row, transcription_row

DAY = timedelta(days=1)


def test_writing_a_row_twice_counts_it_once(ledger_url):
    async def scenario():
        async with migrated(ledger_url) as store:
            first = [speech_row("req_1"), speech_row("req_2"), transcription_row("req_3")]
            await store.write(first)
            await store.write(first)                                    # a replayed spill file
            await store.write([speech_row("req_2"), speech_row("req_4")])  # overlapping batch
            await store.write([speech_row("req_5"), speech_row("req_5")])  # the same id twice in one batch
            totals = await store.totals(TotalsQuery(start=T0, end=T0 + DAY, bucket_seconds=86400))
            stored = await store.list_rows(RowFilter(), limit=100)
            return totals, stored

    totals, stored = run(scenario())
    assert sorted(row.id for row in stored.rows) == ["req_1", "req_2", "req_3", "req_4", "req_5"]
    assert [t.requests for t in totals] == [5]
    assert totals[0].cost_usd == 4 * Decimal("0.000015") * 13 + Decimal("0.0011")
    assert all(len(row.lines) == 1 for row in stored.rows)


def test_decimals_round_trip_exactly_and_sum_exactly(ledger_url):
    tiny, huge = Decimal("0.0000042"), Decimal("12345678.123456789")
    rows = [speech_row("tiny", cost_usd=tiny, audio_seconds=Decimal("0.000001"),
                       lines=(LedgerLine(unit="character", quantity=Decimal("0.5"), price_usd=Decimal("0.0000084"),
                                         per=1, cost_usd=tiny),)),
            speech_row("huge", cost_usd=huge, lines=(LedgerLine(unit="request", quantity=Decimal(1),
                                                                price_usd=huge, per=1, cost_usd=huge),))]

    async def scenario():
        async with migrated(ledger_url) as store:
            await store.write(rows)
            got = {row_id: await store.get(row_id) for row_id in ("tiny", "huge")}
            totals = await store.totals(TotalsQuery(start=T0, end=T0 + DAY, bucket_seconds=86400))
            spend = await store.spend_since("alice", T0)
            return got, totals, spend

    got, totals, spend = run(scenario())
    assert got["tiny"] == rows[0] and got["huge"] == rows[1]         # every field, lines and attempts included
    assert str(got["tiny"].cost_usd) == "0.0000042" and str(got["huge"].cost_usd) == "12345678.123456789"
    assert str(got["tiny"].lines[0].price_usd) == "0.0000084" and got["tiny"].audio_seconds == Decimal("0.000001")
    assert totals[0].cost_usd == spend == Decimal("12345678.1234609890")
    assert totals[0].audio_seconds == Decimal("0.000001")


def test_values_whose_text_forms_are_awkward_round_trip_exactly(ledger_url):
    """Both stores bind decimals and times as text (codec, sqlite.py, postgres.py say why): a decimal that
    `str` writes with an exponent, trailing zeros (the scale is kept), a whole second (msgspec leaves the
    fraction out) and a time given in another zone all read back as the same value, scale and instant."""
    east = timezone(timedelta(hours=5, minutes=30))
    awkward = speech_row("awkward", when=datetime(2024, 11, 1, 5, 30, 0, tzinfo=east), ttfb_ms=None,
                         cost_usd=Decimal("1.5E-7"), audio_seconds=Decimal("1E+2"),
                         lines=(LedgerLine(unit="character", quantity=Decimal("10"), price_usd=Decimal("0.0000150"),
                                           per=1, cost_usd=Decimal("0.000150"), estimated=True),))

    async def scenario():
        async with migrated(ledger_url) as store:
            await store.write([awkward])
            return await store.get("awkward")

    got = run(scenario())
    assert got is not None and got.created_at == T0 and got.created_at.utcoffset() == timedelta(0)
    assert (str(got.cost_usd), str(got.audio_seconds)) in {("1.5E-7", "1E+2"), ("1.5E-7", "100")}
    assert got.cost_usd == Decimal("1.5E-7") and got.audio_seconds == 100
    assert [str(v) for v in (got.lines[0].price_usd, got.lines[0].cost_usd)] == ["0.0000150", "0.000150"]
    assert got.lines[0].estimated is True and got.fell_back is False and got.ttfb_ms is None


@pytest.mark.parametrize("width", [60, 3600, 86400], ids=["1m", "1h", "1d"])
def test_rows_fall_in_the_bucket_their_time_says(ledger_url, width):
    micro = timedelta(microseconds=1)
    placed = {
        "before_start": (T0 - micro, None),
        "at_start": (T0, 0),
        "end_of_first": (T0 + timedelta(seconds=width) - micro, 0),
        "start_of_second": (T0 + timedelta(seconds=width), 1),
        "last_moment": (T0 + timedelta(seconds=3 * width) - micro, 2),
        "at_end": (T0 + timedelta(seconds=3 * width), None),          # end is exclusive
    }

    async def scenario():
        async with migrated(ledger_url) as store:
            await store.write([speech_row(name, when=when) for name, (when, _) in placed.items()])
            return await store.totals(TotalsQuery(start=T0, end=T0 + timedelta(seconds=3 * width),
                                                  bucket_seconds=width))

    totals = run(scenario())
    assert {t.bucket: t.requests for t in totals} == {0: 2, 1: 1, 2: 1}
    assert all(t.characters == 13 * t.requests for t in totals)


def _mixed_rows():
    return [
        speech_row("a1", key="alice", when=at(10)),
        speech_row("a2", key="alice", when=at(3700), model="alibaba/cosyvoice2-0.5b", provider="siliconflow",
                   fell_back=True, price="0.00000715", text="Grüße, 世界!"),
        speech_row("b1", key="bob", when=at(20), text="bob says hi"),
        transcription_row("a3", key="alice", when=at(30), seconds="0.2"),
        transcription_row("b2", key="bob", when=at(40), seconds="61", model="alibaba/sensevoice-small",
                          provider="siliconflow", price="0", endpoint="audio.translations"),
        failed_row("a4", key="alice", when=at(50)),
        speech_row("open", key=None, when=at(60)),
    ]


def test_grouping_and_filters(ledger_url):
    hour = TotalsQuery(start=T0, end=T0 + timedelta(hours=2), bucket_seconds=3600)

    async def scenario():
        async with migrated(ledger_url) as store:
            await store.write(_mixed_rows())
            return {
                "speech_by_model": await store.totals(hour.__replace__(kinds=("tts",), group_by=("model",))),
                "stt_by_key": await store.totals(hour.__replace__(kinds=("stt",), group_by=("api_key_id",))),
                "by_provider": await store.totals(hour.__replace__(bucket_seconds=7200, group_by=("provider",))),
                "alice_only": await store.totals(hour.__replace__(bucket_seconds=7200, api_key_ids=("alice",))),
                "one_model": await store.totals(hour.__replace__(bucket_seconds=7200, models=("whisper-1",))),
            }

    got = run(scenario())
    assert [(t.bucket, t.model, t.requests, t.characters) for t in got["speech_by_model"]] == [
        (0, "tts-1", 4, 13 + 11 + 5 + 13),           # the failed row counts under the model it asked for
        (1, "alibaba/cosyvoice2-0.5b", 1, 10),      # the fallback is costed where it was served
    ]
    assert [(t.api_key_id, t.requests, t.seconds, t.audio_seconds) for t in got["stt_by_key"]] == [
        ("alice", 1, 1, Decimal("0.2")), ("bob", 1, 61, Decimal("61"))]
    assert {t.provider: t.requests for t in got["by_provider"]} == {None: 1, "openai": 4, "siliconflow": 2}
    assert [(t.requests, t.cost_usd) for t in got["alice_only"]] == [
        (4, Decimal("0.000015") * 13 + Decimal("0.00000715") * 10 + Decimal("0.0001"))]
    assert [(t.requests, t.seconds) for t in got["one_model"]] == [(1, 1)]


def test_costs_by_line_item_sum_the_billing_lines(ledger_url):
    two_lines = speech_row("mini", model="gpt-4o-mini-tts", lines=(
        LedgerLine(unit="input_token", quantity=Decimal(4), price_usd=Decimal("0.6"), per=1_000_000,
                   cost_usd=Decimal("0.0000024")),
        LedgerLine(unit="output_token", quantity=Decimal(120), price_usd=Decimal("12"), per=1_000_000,
                   cost_usd=Decimal("0.00144"), estimated=True)), cost_usd=Decimal("0.0014424"))

    async def scenario():
        async with migrated(ledger_url) as store:
            await store.write([*_mixed_rows(), two_lines])
            return await store.totals(TotalsQuery(start=T0, end=T0 + DAY, bucket_seconds=86400,
                                                  group_by=("line_item",)))

    items = {(t.model, t.unit): (t.requests, t.quantity, t.cost_usd) for t in run(scenario())}
    assert items == {
        ("alibaba/cosyvoice2-0.5b", "character"): (1, Decimal(10), Decimal("0.0000715")),
        ("alibaba/sensevoice-small", "second"): (1, Decimal(61), Decimal(0)),
        ("gpt-4o-mini-tts", "input_token"): (1, Decimal(4), Decimal("0.0000024")),
        ("gpt-4o-mini-tts", "output_token"): (1, Decimal(120), Decimal("0.00144")),
        ("tts-1", "character"): (3, Decimal(37), Decimal("0.000555")),
        ("whisper-1", "second"): (1, Decimal(1), Decimal("0.0001")),
    }


def test_rows_page_newest_first_with_filters(ledger_url):
    same_time = [speech_row(f"tie_{i}", when=at(500)) for i in range(3)]

    async def scenario():
        async with migrated(ledger_url) as store:
            await store.write([*_mixed_rows(), *same_time])
            pages, cursor = [], None
            while True:
                page = await store.list_rows(RowFilter(), limit=3, before=cursor)
                pages.append([row.id for row in page.rows])
                if page.next is None:
                    break
                cursor = page.next
            filtered = {
                "bob": await store.list_rows(RowFilter(api_key_id="bob"), limit=10),
                "failed": await store.list_rows(RowFilter(status="failed"), limit=10),
                "whisper": await store.list_rows(RowFilter(model="whisper-1"), limit=10),
                "stt": await store.list_rows(RowFilter(kind="stt"), limit=10),
            }
            return pages, {name: [row.id for row in page.rows] for name, page in filtered.items()}

    pages, filtered = run(scenario())
    assert pages == [["a2", "tie_2", "tie_1"], ["tie_0", "open", "a4"], ["b2", "a3", "b1"], ["a1"]]
    assert filtered == {"bob": ["b2", "b1"], "failed": ["a4"], "whisper": ["a3"], "stt": ["b2", "a3"]}


def test_totals_of_fallbacks_and_of_some_statuses_and_rows_since_a_time(ledger_url):
    """What the console's Overview and Providers read: fallbacks, error statuses, the last hour's rows."""
    rows = [speech_row("plain", when=at(10)), speech_row("fell", when=at(20), fell_back=True),
            failed_row("broken", when=at(30)), speech_row("cut", when=at(40), status="upstream_cut"),
            speech_row("late", when=at(4000))]

    async def scenario():
        async with migrated(ledger_url) as store:
            await store.write(rows)
            query = TotalsQuery(start=T0, end=T0 + DAY, bucket_seconds=86400, group_by=("model",))
            fallbacks = await store.totals(msgspec.structs.replace(query, fell_back=True))
            direct = await store.totals(msgspec.structs.replace(query, fell_back=False))
            errors = await store.totals(msgspec.structs.replace(query, statuses=("failed", "upstream_cut")))
            recent = await store.list_rows(RowFilter(since=at(30)), limit=10)
            return fallbacks, direct, errors, recent

    fallbacks, direct, errors, recent = run(scenario())
    assert {(t.model, t.requests) for t in fallbacks} == {("tts-1", 2)}          # the fallback and the failure
    assert sum(t.requests for t in direct) == 3
    assert sum(t.requests for t in errors) == 2
    assert [row.id for row in recent.rows] == ["late", "cut", "broken"]


def test_spend_of_one_key_since_a_time(ledger_url):
    async def scenario():
        async with migrated(ledger_url) as store:
            await store.write(_mixed_rows())
            return (await store.spend_since("alice", T0), await store.spend_since("alice", at(31)),
                    await store.spend_since("bob", T0), await store.spend_since(None, T0),
                    await store.spend_since("nobody", T0))

    alice, alice_late, bob, open_mode, nobody = run(scenario())
    assert alice == Decimal("0.000195") + Decimal("0.0000715") + Decimal("0.0001")
    assert alice_late == Decimal("0.0000715")                      # only a2 (at 3700 s) is after 31 s
    assert bob == Decimal("0.000165") and open_mode == Decimal("0.000195") and nobody == 0


def test_permission_filtering_sees_only_the_keys_named(ledger_url):
    async def scenario():
        async with migrated(ledger_url) as store:
            await store.write(_mixed_rows())
            query = TotalsQuery(start=T0, end=T0 + DAY, bucket_seconds=86400, group_by=("api_key_id",))
            return (await store.totals(query.__replace__(api_key_ids=("bob",))), await store.totals(query))

    bob_only, everyone = run(scenario())
    assert [(t.api_key_id, t.requests) for t in bob_only] == [("bob", 2)]
    assert [(t.api_key_id, t.requests) for t in everyone] == [(None, 1), ("alice", 4), ("bob", 2)]


def test_unknown_row_is_none_and_migrations_are_current(ledger_url):
    async def scenario():
        async with migrated(ledger_url) as store:
            again = await store.upgrade()                         # a second start-up finds nothing to do
            await store.check_schema()
            async with store._engine.connect() as conn:
                drift = await conn.run_sync(lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"version_table": VERSION_TABLE}), metadata))
            return await store.get("nope"), again, await store.revision(), drift

    missing, again, revision, drift = run(scenario())
    assert missing is None
    assert again == revision == head_revision()
    assert drift == []                                            # the migrations build exactly schema.py's tables


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_processes_starting_at_once_migrate_one_after_the_other(kind, request, tmp_path):
    """Prefork workers and job workers start together: each upgrades a brand-new database at the same time."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database("fresh_concurrent")

    async def scenario():
        stores = [LedgerStore.from_url(url) for _ in range(4)]
        try:
            revisions = await asyncio.gather(*(store.upgrade() for store in stores))
            await stores[0].write([speech_row("after")])
            return revisions, await stores[1].get("after")
        finally:
            for store in stores:
                await store.close()

    revisions, row = run(scenario())
    assert revisions == [head_revision()] * 4 and row is not None
