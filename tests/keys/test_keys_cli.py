"""`audio-gateway keys ...` in-process (main(argv)), on an SQLite ledger: the secret once, bad input exit 1."""

from __future__ import annotations

import json

import pytest

from audio_gateway.cli import main

from ..conftest import SERVER_SECRET


@pytest.fixture
def cli_env(monkeypatch, tmp_path):
    for name, value in {"AUDIO_GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
                        "AUDIO_GATEWAY_SECRET_KEY": SERVER_SECRET, "AUDIO_GATEWAY_LOCAL": "off",
                        "AUDIO_GATEWAY_API_KEYS": "alice:sk-env-alice-1234",
                        "OPENAI_BASE_URL": "http://127.0.0.1:9", "OPENAI_API_KEY": "x",
                        "SILICONFLOW_BASE_URL": "http://127.0.0.1:9", "SILICONFLOW_API_KEY": "x",
                        "AUDIO_GATEWAY_LOG_LEVEL": "WARNING"}.items():
        monkeypatch.setenv(name, value)


def keys(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(["keys", *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_create_prints_the_secret_once_and_list_never_shows_it(cli_env, capsys):
    status, out, err = keys(capsys, "create", "team-a", "--models", "tts-1,whisper-1", "--budget-usd", "12.5",
                            "--budget-period", "week", "--rpm", "60", "--characters-per-minute", "20000")
    secret = out.strip()
    assert status == 0 and secret.startswith("sk-gw-") and len(secret) == 6 + 43 and "only once" in err
    status, out, _ = keys(capsys, "list", "--format", "json")
    [view] = json.loads(out)
    assert status == 0 and secret not in out
    assert (view["name"], view["models"], view["budget_usd"], view["budget_period"], view["rpm"],
            view["characters_per_minute"], view["spend_usd"]) == (
        "team-a", ["openai/tts-1", "openai/whisper-1"], "12.5", "week", 60, 20000, "0")
    status, out, _ = keys(capsys, "list")
    assert status == 0 and out.splitlines()[0].split()[:3] == ["NAME", "ADMIN", "CREATED"] and "team-a" in out
    assert keys(capsys, "update", "team-a", "--rpm", "none", "--admin", "yes")[0] == 0
    [view] = json.loads(keys(capsys, "list", "--format", "json")[1])
    assert view["rpm"] is None and view["admin"] is True and view["budget_usd"] == "12.5"
    assert keys(capsys, "revoke", "team-a")[0] == 0
    assert json.loads(keys(capsys, "list", "--format", "json")[1]) == []


@pytest.mark.parametrize(("argv", "flag"), [
    (("create", "dup"), "NAME"),
    (("create", "alice"), "NAME"),
    (("create", "x1", "--budget-period", "year", "--budget-usd", "1"), "--budget-period"),
    (("create", "x1", "--budget-usd", "-5"), "--budget-usd"),
    (("create", "x1", "--budget-usd", "lots"), "--budget-usd"),
    (("create", "x1", "--models", "tts-1,nope"), "--models"),
    (("create", "x1", "--rpm", "0"), "--rpm"),
    (("create", "x1", "--audio-seconds-per-minute", "1.5"), "--audio-seconds-per-minute"),
    (("update", "dup", "--budget-period", "day"), "--budget-period"),
    (("update", "ghost", "--rpm", "3"), "NAME"),
    (("revoke", "ghost"), "NAME"),
])
def test_bad_input_exits_1_naming_the_field_and_writes_nothing(cli_env, capsys, argv, flag):
    assert keys(capsys, "create", "dup")[0] == 0
    before = keys(capsys, "list", "--format", "json")[1]
    status, out, err = keys(capsys, *argv)
    assert status == 1 and out == ""
    assert err.startswith(f"audio-gateway: keys {argv[0]}: {flag}: "), err
    assert keys(capsys, "list", "--format", "json")[1] == before
