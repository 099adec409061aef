"""The server secret and the owner ids made from it: not derived from client secrets, stable, kept private."""

from __future__ import annotations

import hashlib
import hmac
import logging
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from audio_gateway.server_secret import ServerSecret, load_or_create
from audio_gateway.settings import Settings, SettingsError, owner_id

SECRET = "unit-test-server-secret-0123456789abcdef"


def test_without_the_variable_a_secret_is_made_once_and_kept_private(tmp_path):
    data_dir = tmp_path / "not-yet-there"
    first = load_or_create(data_dir)
    assert first.created and first.from_file and first.origin == str(data_dir / "secret_key")
    assert stat.S_IMODE((data_dir / "secret_key").stat().st_mode) == 0o600
    again = load_or_create(data_dir)
    assert not again.created
    assert again.derive("owner", "alice") == first.derive("owner", "alice")
    assert [p.name for p in data_dir.iterdir()] == ["secret_key"]  # no temporary file left behind


def test_processes_starting_together_agree_on_one_secret(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        secrets = list(pool.map(lambda _: load_or_create(tmp_path), range(16)))
    assert len({s.derive("owner", "x") for s in secrets}) == 1
    assert sum(s.created for s in secrets) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_the_variable_wins_and_copying_the_file_into_it_keeps_every_owner_id(tmp_path):
    from_file = load_or_create(tmp_path)
    copied = Settings.from_env({"AUDIO_GATEWAY_SECRET_KEY": (tmp_path / "secret_key").read_text(),
                                "AUDIO_GATEWAY_API_KEYS": "alice:sk-a", "AUDIO_GATEWAY_DATA_DIR": str(tmp_path / "x")})
    assert copied.secret_key is not None and not copied.secret_key.from_file
    assert copied.api_keys[0].owner == owner_id(from_file, "alice")
    assert not (tmp_path / "x").exists()  # the variable given, nothing is written


def test_a_short_secret_is_refused_at_start_up():
    with pytest.raises(SettingsError, match="at least 32 characters"):
        Settings.from_env({"AUDIO_GATEWAY_SECRET_KEY": "too-short"})


def test_owner_ids_come_from_the_name_under_the_server_secret_not_from_the_client_secret():
    settings = Settings.from_env({"AUDIO_GATEWAY_SECRET_KEY": SECRET,
                                  "AUDIO_GATEWAY_API_KEYS": "alice:sk-alice-1,bob:sk-bob-1,alice:sk-alice-2"})
    alice_1, bob, alice_2 = settings.api_keys
    expected = hmac.new(SECRET.encode(), b"owner\x00alice", hashlib.sha256).hexdigest()[:32]
    assert alice_1.owner == expected
    assert alice_1.owner != hashlib.sha256(b"sk-alice-1").hexdigest()[:32] == alice_1.legacy_owner
    assert alice_2.owner == alice_1.owner  # same name: a rotated key keeps its jobs
    assert alice_2.legacy_owner != alice_1.legacy_owner
    assert bob.owner != alice_1.owner
    other = Settings.from_env({"AUDIO_GATEWAY_SECRET_KEY": SECRET + "x", "AUDIO_GATEWAY_API_KEYS": "alice:sk-alice-1"})
    assert other.api_keys[0].owner != alice_1.owner  # unguessable without the server secret


def test_the_secret_never_shows_in_a_repr():
    secret = ServerSecret(SECRET)
    settings = Settings.from_env({"AUDIO_GATEWAY_SECRET_KEY": SECRET, "AUDIO_GATEWAY_API_KEYS": "alice:sk-a"})
    assert SECRET not in repr(secret) and SECRET not in repr(settings) and SECRET not in repr(settings.api_keys)


def test_serve_warns_only_when_the_secret_is_this_machines_alone(tmp_path, caplog):
    log = logging.getLogger("audio_gateway.test")
    with caplog.at_level(logging.WARNING, logger="audio_gateway.test"):
        ServerSecret(SECRET).warn_if_local(log)
        assert caplog.records == []
        load_or_create(tmp_path).warn_if_local(log)
    [record] = caplog.records
    assert "AUDIO_GATEWAY_SECRET_KEY" in record.getMessage() and "multi-replica" in record.getMessage()
    assert "(created now)" in record.getMessage()
