"""Console session values and CSRF tokens (pure): what a forged, altered or expired cookie gets."""

from __future__ import annotations

import pytest

from audio_gateway.api.auth import KeyRing
from audio_gateway.console.guard import admin_for_session, same_origin
from audio_gateway.console.session import SessionCodec
from audio_gateway.server_secret import ServerSecret
from audio_gateway.settings import ClientKey

SECRET = ServerSecret("console-unit-test-secret-0123456789abcdef")
OTHER = ServerSecret("another-servers-secret-0123456789abcdef!!")
ADMIN = ClientKey(name="ops", secret="sk-ops-1", owner="o1", admin=True)
CLIENT = ClientKey(name="app", secret="sk-app-1", owner="o2")


def test_a_session_reads_back_until_it_expires():
    codec = SessionCodec(SECRET)
    value, session = codec.issue("ops", "sk-ops-1", now=1000, lifetime=60)
    assert codec.read(value, now=1059) == session
    assert codec.read(value, now=1060) is None
    assert "sk-ops-1" not in value


@pytest.mark.parametrize("mangle", [
    lambda v: v[:-1] + ("0" if v[-1] != "0" else "1"),           # signature altered
    lambda v: ("f" if v[0] != "f" else "g") + v[1:],              # payload altered
    lambda v: v.split(".")[0],                                    # unsigned
    lambda v: "",
    lambda v: "not base64!." + v.split(".")[1],
])
def test_an_altered_value_is_no_session(mangle):
    codec = SessionCodec(SECRET)
    value, _ = codec.issue("ops", "sk-ops-1", now=1000)
    assert codec.read(mangle(value), now=1001) is None


def test_another_servers_secret_signs_nothing_here():
    value, _ = SessionCodec(OTHER).issue("ops", "sk-ops-1", now=1000)
    assert SessionCodec(SECRET).read(value, now=1001) is None


def test_the_csrf_token_belongs_to_one_session():
    codec = SessionCodec(SECRET)
    _, first = codec.issue("ops", "sk-ops-1", now=1000)
    _, second = codec.issue("ops", "sk-ops-1", now=1000)
    assert codec.csrf_ok(first, codec.csrf_token(first))
    assert not codec.csrf_ok(first, codec.csrf_token(second))
    assert not codec.csrf_ok(first, "")
    assert codec.csrf_token(first) != SECRET.derive("owner", first.nonce)     # purposes never overlap


def test_a_session_dies_with_its_key():
    codec = SessionCodec(SECRET)
    _, session = codec.issue("ops", "sk-ops-1", now=1000)
    assert admin_for_session(session, KeyRing((ADMIN, CLIENT)), codec) == (True, ADMIN)
    rotated = ClientKey(name="ops", secret="sk-ops-2", owner="o1", admin=True)
    assert admin_for_session(session, KeyRing((rotated,)), codec) == (False, None)          # new secret
    demoted = ClientKey(name="ops", secret="sk-ops-1", owner="o1")
    assert admin_for_session(session, KeyRing((demoted,)), codec) == (False, None)          # no longer admin
    assert admin_for_session(session, KeyRing((CLIENT,)), codec) == (False, None)           # removed
    _, open_session = codec.issue(None, "", now=1000)
    assert admin_for_session(open_session, KeyRing(()), codec) == (True, None)              # open mode
    assert admin_for_session(open_session, KeyRing((ADMIN,)), codec) == (False, None)       # keys configured since


@pytest.mark.parametrize(("origin", "host", "same"), [
    ("", "127.0.0.1:8000", True),
    ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
    ("https://evil.example", "127.0.0.1:8000", False),
    ("http://127.0.0.1:8001", "127.0.0.1:8000", False),
    ("null", "127.0.0.1:8000", False),
])
def test_only_this_hosts_origin_may_change_things(origin, host, same):
    headers = [(b"host", host.encode())] + ([(b"origin", origin.encode())] if origin else [])
    assert same_origin({"headers": headers}) is same


def test_behind_a_proxy_the_forwarded_host_counts():
    headers = [(b"host", b"10.0.0.5:8000"), (b"x-forwarded-host", b"gw.example.com"),
               (b"origin", b"https://gw.example.com")]
    assert same_origin({"headers": headers})
    assert not same_origin({"headers": [*headers[:2], (b"origin", b"https://evil.example")]})
    assert not same_origin({"headers": [headers[0], (b"origin", b"https://gw.example.com")]})
