"""Client and admin keys from the environment: names, trimming, admin precedence."""

from __future__ import annotations

import pytest

from audio_gateway.server_secret import ServerSecret
from audio_gateway.settings import Settings, SettingsError, parse_api_keys

SECRET = ServerSecret("unit-test-server-secret-0123456789abcdef")
ENV = {"AUDIO_GATEWAY_SECRET_KEY": "unit-test-server-secret-0123456789abcdef"}  # no ./data/secret_key written


def test_whitespace_around_names_and_secrets_is_dropped():
    (carol, dave) = parse_api_keys(" carol: sk-carol-1 ,dave :sk-dave-2", SECRET)
    assert (carol.name, carol.secret) == ("carol", "sk-carol-1")
    assert (dave.name, dave.secret) == ("dave", "sk-dave-2")


def test_a_secret_with_inner_whitespace_is_refused():
    with pytest.raises(SettingsError, match="whitespace"):
        parse_api_keys("erin:sk-a b", SECRET)


def test_unnamed_keys_get_a_name_and_an_empty_secret_is_refused():
    (key,) = parse_api_keys("sk-unnamed", SECRET)
    assert key.name.startswith("key-") and key.secret == "sk-unnamed"
    with pytest.raises(SettingsError, match="empty key"):
        parse_api_keys("frank:", SECRET)


def test_admin_keys_are_admin_and_win_over_a_duplicate_client_entry():
    settings = Settings.from_env({"AUDIO_GATEWAY_API_KEYS": "alice:sk-a,root:sk-root",
                                  "AUDIO_GATEWAY_ADMIN_KEYS": "root:sk-root,ops:sk-ops", **ENV})
    by_name = {key.name: key for key in settings.api_keys}
    assert set(by_name) == {"alice", "root", "ops"}
    assert [by_name[n].admin for n in ("alice", "root", "ops")] == [False, True, True]
    assert settings.auth_enabled


def test_admin_keys_alone_turn_auth_on():
    assert Settings.from_env({"AUDIO_GATEWAY_ADMIN_KEYS": "ops:sk-ops", **ENV}).auth_enabled
    assert not Settings.from_env(ENV).auth_enabled


def test_data_dir_defaults_to_data_and_follows_the_environment(tmp_path):
    assert str(Settings.from_env(ENV).data_dir) == "data"
    assert Settings.from_env({"AUDIO_GATEWAY_DATA_DIR": str(tmp_path)}).data_dir == tmp_path
