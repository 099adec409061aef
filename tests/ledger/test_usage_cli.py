"""`audio-gateway usage` and `db upgrade`: the CLI reads the same ledger, and its totals are the API's."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from audio_gateway.ledger.migrate import head_revision

from ..test_cli import run_cli
from .dataset import DATASET, DAY, PAGED_DAYS
from .rows import T0_UNIX

RANGE = ("--since", "2024-11-01", "--until", "2024-11-11")


def _cli_json(url: str, group_by: str) -> dict:
    result = run_cli("usage", *RANGE, "--group-by", group_by, "--format", "json",
                     env={"AUDIO_GATEWAY_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _api_results(gateway, path: str) -> list[dict]:
    with gateway.client("ops") as http:
        body = http.get(path, params={"start_time": T0_UNIX, "end_time": T0_UNIX + PAGED_DAYS * DAY, "limit": 31}).json()
    return [result for bucket in body["data"] for result in bucket["results"]]


@pytest.mark.parametrize("group_by", ["model", "day"])
def test_cli_totals_equal_the_apis(usage_gateway, group_by):
    cli = _cli_json(usage_gateway.database_url, group_by)
    speeches = _api_results(usage_gateway, "/v1/organization/usage/audio_speeches")
    transcriptions = _api_results(usage_gateway, "/v1/organization/usage/audio_transcriptions")
    costs = _api_results(usage_gateway, "/v1/organization/costs")
    total = cli["total"]
    assert Decimal(total["cost_usd"]) == sum((Decimal(r["cost_usd"]) for r in costs), Decimal(0)) == \
        sum((row.cost_usd for row in DATASET), Decimal(0))
    assert total["characters"] == sum(r["characters"] for r in speeches)
    assert total["seconds"] == sum(r["seconds"] for r in transcriptions)
    assert total["requests"] == sum(r["num_model_requests"] for r in speeches + transcriptions) == len(DATASET)
    assert sum(Decimal(line["cost_usd"]) for line in cli["rows"]) == Decimal(total["cost_usd"])


def test_cli_groups_by_key_provider_and_day(usage_gateway):
    by_key = {line["group"]: line for line in _cli_json(usage_gateway.database_url, "key")["rows"]}
    assert sorted(by_key) == ["alice", "bob", "ops"]
    assert Decimal(by_key["ops"]["cost_usd"]) == Decimal("12345678.123456789")
    by_provider = {line["group"]: line["requests"] for line in _cli_json(usage_gateway.database_url, "provider")["rows"]}
    assert by_provider == {"(none)": 1, "openai": 13, "siliconflow": 2}
    by_day = [line["group"] for line in _cli_json(usage_gateway.database_url, "day")["rows"]]
    assert by_day == [f"2024-11-{day:02d}" for day in range(1, PAGED_DAYS + 1)]


def test_table_and_csv(usage_gateway, snapshot):
    if usage_gateway.kind != "sqlite":
        pytest.skip("the same text for both stores; shown once")
    env = {"AUDIO_GATEWAY_DATABASE_URL": usage_gateway.database_url}
    table = run_cli("usage", *RANGE, "--group-by", "model", env=env)
    assert table.returncode == 0 and table.stdout == snapshot
    rows = list(csv.DictReader(io.StringIO(run_cli("usage", *RANGE, "--format", "csv", env=env).stdout)))
    assert rows[-1]["model"] == "TOTAL"
    assert Decimal(rows[-1]["cost_usd"]) == sum((Decimal(r["cost_usd"]) for r in rows[:-1]), Decimal(0))


def test_db_upgrade_creates_the_ledger_in_the_data_dir(tmp_path):
    env = {"AUDIO_GATEWAY_DATA_DIR": str(tmp_path / "data")}
    empty = run_cli("usage", env=env)
    assert empty.returncode == 1 and "db upgrade" in empty.stderr
    for _ in range(2):                                     # the second run finds nothing to do
        result = run_cli("db", "upgrade", env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("ledger database sqlite+aiosqlite:///") and f"revision {head_revision()}" in result.stdout
    assert (tmp_path / "data" / "ledger.db").is_file()
    nothing = run_cli("usage", "--format", "json", env=env)
    assert nothing.returncode == 0 and json.loads(nothing.stdout)["total"]["requests"] == 0


def test_bad_dates_are_a_clear_message(tmp_path):
    result = run_cli("usage", "--since", "last tuesday", env={"AUDIO_GATEWAY_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2 and "--since: must be a date" in result.stderr
    backwards = run_cli("usage", "--since", "2024-11-02", "--until", "2024-11-01",
                        env={"AUDIO_GATEWAY_DATA_DIR": str(tmp_path)})
    assert backwards.returncode == 2 and "--until must be after --since" in backwards.stderr
